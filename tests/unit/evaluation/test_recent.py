from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from evergreen.config import RecentConfig
from evergreen.evaluation.bootstrap import resample_indices
from evergreen.evaluation.policy import ModelScore, Policy, decide
from evergreen.evaluation.recent import (
    ChampionOnRows,
    EvaluationBasis,
    champion_on_rows,
    choose_basis,
    detect_change,
    recent_mask,
)

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)


def test_recent_mask_by_batches_and_by_days() -> None:
    batches = np.array([1, 1, 2, 3, 3])
    assert recent_mask(batches, None, AS_OF, RecentConfig(batches=1)).tolist() == [0, 0, 0, 1, 1]
    assert recent_mask(batches, None, AS_OF, RecentConfig(batches=2)).tolist() == [0, 0, 1, 1, 1]
    times = np.array(
        ["2024-02-01", "2024-02-20", "2024-02-26", "2024-02-28", "2024-03-01"], dtype="datetime64[ns]"
    )
    assert recent_mask(batches, times, AS_OF, RecentConfig(days=4)).tolist() == [0, 0, 1, 1, 1]


def test_champion_on_rows_values_and_bootstrap_sigma() -> None:
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    pred = np.array([1, 1, 0, 0, 1, 0, 1, 0])  # older 4/4 right, recent 2/4
    recent = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    got = champion_on_rows("binary", "accuracy", y, pred, None, [0, 1], recent, samples=200, seed=7)
    right = (y == pred)[recent].astype(float)
    expected = float(np.std(right[resample_indices(4, 200, 7)].mean(axis=1)))
    assert (got.recent, got.older, got.recent_rows, got.older_rows) == (0.5, 1.0, 4, 4)
    assert got.recent_sigma == pytest.approx(expected, abs=1e-12)


def _check(recent: float, sigma: float, older: float, n: int = 1000) -> ChampionOnRows:
    return ChampionOnRows("accuracy", recent, sigma, older, n, 400)


def test_detect_change_needs_both_the_drop_and_the_band() -> None:
    changed, change, low, high = detect_change(_check(0.49, 0.03, 0.99), drop_limit=0.05, sigmas=3)
    assert changed and change == pytest.approx(-0.5) and (low, high) == pytest.approx((0.40, 0.58))
    assert not detect_change(_check(0.96, 0.01, 0.99), drop_limit=0.05, sigmas=3)[0]  # small drop
    assert not detect_change(_check(0.90, 0.04, 0.99), drop_limit=0.05, sigmas=3)[0]  # band holds 0.99
    assert detect_change(_check(0.97, 0.01, 0.73), drop_limit=0.05, sigmas=3)[0]  # a rise counts too
    # exactly the limit is not beyond it (0.85 - 0.80 is 0.04999999999999993 in binary)
    assert not detect_change(_check(0.80, 0.0, 0.85), drop_limit=0.05, sigmas=3)[0]


def _basis(mode: str, check: ChampionOnRows | None, trigger: str = "manual", **kw: object) -> EvaluationBasis:
    args: dict[str, object] = {
        "trigger": trigger,
        "drop_limit": 0.05,
        "sigmas": 3.0,
        "min_rows": 30,
        "train_on_change": True,
        "recent_batches": [7],
        "older_batches": [5, 6],
        "holdout_rows": (200, 600),
    }
    args.update(kw)
    return choose_basis(mode, check, **args)  # type: ignore[arg-type]


def test_choose_basis_auto_switches_to_recent_after_a_change() -> None:
    b = _basis("auto", _check(0.49, 0.03, 0.99))
    assert (b.rows, b.reason, b.train_on_recent) == ("recent", "performance_change", True)
    assert b.describe() == (
        "Judged on the 200 holdout rows of the newest data (batch 7), not on the window's 600: "
        "the champion's accuracy on the newest data (1000 rows it was not trained on), 0.4900 "
        "(band [0.4000, 0.5800]), against 0.9900 on the older holdout rows (batches 5, 6), fell by "
        "0.5000: the concept changed under the champion. "
        "The candidate was trained on the newest data only (batch 7)."
    )
    rise = _basis("auto", _check(0.97, 0.01, 0.73), train_on_change=False)
    assert (rise.rows, rise.train_on_recent) == ("recent", False)
    assert "rose by 0.2400: the older rows belong to a concept the champion no longer fits" in rise.describe()


def test_choose_basis_keeps_the_window_without_evidence_of_a_change() -> None:
    b = _basis("auto", _check(0.96, 0.01, 0.97))
    assert (b.rows, b.reason) == ("window", "no_change")
    assert b.describe().startswith("Judged on the window's 600 holdout rows (batches 5, 6, 7): the champion")
    assert _basis("auto", None).reason == "no_champion"
    assert _basis("auto", _check(0.2, 0.01, 0.99, n=20)).reason == "too_few_rows"  # 20 < min_rows
    assert _basis("auto", _check(0.2, 0.01, 0.99), holdout_rows=(20, 600)).reason == "too_few_rows"
    assert _basis("window", _check(0.49, 0.03, 0.99)).reason == "configured_window"
    drift = _basis("auto", _check(0.96, 0.01, 0.97), trigger="drift")
    assert (drift.rows, drift.reason, drift.train_on_recent) == ("recent", "drift_trigger", False)
    assert (_basis("recent", _check(0.96, 0.01, 0.97)).reason) == "configured_recent"


def test_decide_records_and_tells_the_rows_that_decided() -> None:
    basis = _basis("auto", _check(0.49, 0.03, 0.99))
    cand = ModelScore("3", {"accuracy": 0.9})
    champ = ModelScore("2", {"accuracy": 0.49})
    d = decide(cand, champ, Policy(metric="accuracy"), basis=basis)
    assert d.outcome == "promoted"
    assert d.justification.startswith(
        "Promoted: candidate accuracy 0.9000 vs champion (version 2) 0.4900, delta +0.4100. "
        "All 1 gates passed. Judged on the 200 holdout rows of the newest data (batch 7)"
    )
    assert d.checks[-1].name == "evaluation_rows" and d.checks[-1].numbers["recent_batches"] == (7,)


def test_after_a_detected_change_the_significance_gate_is_waived() -> None:
    from evergreen.evaluation.bootstrap import BootstrapResult

    cand = ModelScore("3", {"accuracy": 0.78})
    champ = ModelScore("2", {"accuracy": 0.76})
    ci = BootstrapResult(delta=0.02, ci_low=-0.04, ci_high=0.07, samples=500, seed=42, alpha=0.05)
    policy = Policy(metric="accuracy", significance=0.05)
    changed = _basis("auto", _check(0.49, 0.03, 0.99))
    d = decide(cand, champ, policy, ci, basis=changed)
    gate = next(c for c in d.checks if c.name == "significance")
    assert d.outcome == "promoted" and gate.passed and gate.numbers["waived"] is True
    assert gate.detail.endswith("waived: the champion fell beyond its band on the newest data")
    # configured recent rows, a drift trigger or no basis: the gate holds
    for basis in (
        _basis("recent", _check(0.96, 0.01, 0.97)),
        _basis("auto", _check(0.96, 0.01, 0.97), trigger="drift"),
        None,
    ):
        assert decide(cand, champ, policy, ci, basis=basis).outcome == "rejected"


def test_a_recorded_basis_reads_back_from_the_decision_checks() -> None:
    import json

    from evergreen.evaluation.policy import BASIS_CHECK, recorded_basis
    from evergreen.evaluation.recent import EvaluationBasis

    basis = EvaluationBasis(
        "recent", "performance_change", (4,), (2, 3), recent_rows=103, window_rows=309, sigma=0.0125
    )
    stored = [
        {"name": "min_accuracy", "numbers": {"value": 0.9}},
        {"name": BASIS_CHECK, "numbers": basis.to_dict()},
    ]

    assert recorded_basis(json.loads(json.dumps(stored))) == basis  # lists in JSON, tuples back
    assert recorded_basis([{"name": "min_accuracy", "numbers": {}}]) is None
    assert recorded_basis(None) is None


@pytest.mark.parametrize(
    "checks",
    [
        {"name": "evaluation_rows"},  # a dict, not a list of checks
        "evaluation_rows",
        ["evaluation_rows", 3, None],
        [{"name": "evaluation_rows", "numbers": "recent"}],
        [{"name": "evaluation_rows", "numbers": {"reason": "performance_change"}}],  # no rows
        [{"name": "evaluation_rows", "numbers": {"rows": "newest", "reason": "performance_change"}}],
        [{"name": "evaluation_rows", "numbers": {"rows": "recent", "reason": "because"}}],
        [{"name": "evaluation_rows", "numbers": {"rows": "recent", "reason": "drift_trigger",
                                                 "recent_batches": ["four"]}}],
        [{"name": "evaluation_rows", "numbers": {"rows": "recent", "reason": "drift_trigger",
                                                 "older_batches": 3}}],
    ],
)  # fmt: skip
def test_an_unreadable_recorded_basis_says_nothing(checks: object) -> None:
    # A decision row's checks as edited by hand or damaged: approval judges on the whole window's
    # holdout (as for a decision recorded before the basis was), never a crash or a guessed subset.
    from evergreen.evaluation.policy import recorded_basis

    assert recorded_basis(checks) is None


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("drift_trigger", "a drift trigger started this run."),
        ("configured_recent", "promotion.evaluate_on is recent."),
    ],
)
def test_recent_rows_chosen_without_a_judged_change_are_described(reason: str, why: str) -> None:
    # The champion was measured on both parts, but too few older rows to judge a change: no `change`.
    from evergreen.evaluation.recent import EvaluationBasis

    basis = EvaluationBasis(
        "recent", reason, (4,), (3,), recent_rows=40, window_rows=60, metric="accuracy",
        champion_recent=0.8, champion_older=0.9,
    )  # fmt: skip
    assert (
        basis.describe()
        == f"Judged on the 40 holdout rows of the newest data (batch 4), not on the window's 60: {why}"
    )
