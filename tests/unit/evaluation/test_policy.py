"""decide(): every gate, with exact numbers."""

from __future__ import annotations

import json

import pytest

from evergreen.config import PromotionConfig
from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.policy import Check, Decision, ModelScore, Policy, decide


def _policy(**kw: object) -> Policy:
    base: dict[str, object] = {
        "metric": "f1_macro",
        "min_metrics": {},
        "min_improvement": 0.0,
        "significance": None,
        "max_slice_regression": None,
        "require_approval": False,
        "lower_is_better": False,
    }
    base.update(kw)
    return Policy(**base)  # type: ignore[arg-type]


def _ci(low: float, high: float, delta: float = 0.0) -> BootstrapResult:
    return BootstrapResult(delta=delta, ci_low=low, ci_high=high, samples=1000, seed=42, alpha=0.05)


def _check(decision: Decision, name: str) -> Check:
    return next(c for c in decision.checks if c.name == name)


CAND = ModelScore("2", {"f1_macro": 0.82, "accuracy": 0.9})
CHAMP = ModelScore("1", {"f1_macro": 0.80, "accuracy": 0.88})


def test_first_model_promoted_on_value_gates() -> None:
    d = decide(CAND, None, _policy(min_metrics={"accuracy": 0.85, "f1_macro": 0.8}))
    assert d.outcome == "promoted"
    assert [c.name for c in d.checks] == ["min_metric:accuracy", "min_metric:f1_macro", "champion"]
    assert (d.candidate_value, d.champion_value, d.delta, d.ci_low) == (0.82, None, None, None)
    assert d.justification == (
        "Promoted: candidate f1_macro 0.8200; no champion yet: first model, judged on value gates alone."
        " All 3 gates passed."
    )


def test_first_model_below_a_gate_is_rejected() -> None:
    d = decide(CAND, None, _policy(min_metrics={"accuracy": 0.95}))
    assert d.outcome == "rejected"
    gate = _check(d, "min_metric:accuracy")
    assert (gate.passed, gate.numbers) == (False, {"value": 0.9, "bound": 0.95, "kind": "min"})
    assert "First failed gate: min_metric:accuracy — accuracy 0.9000 < minimum 0.9500." in d.justification


def test_missing_gate_metric_rejects_and_names_it() -> None:
    d = decide(CAND, CHAMP, _policy(min_metrics={"roc_auc": 0.7}))
    assert d.outcome == "rejected"
    assert _check(d, "min_metric:roc_auc").detail == "candidate has no value for roc_auc"


def test_champion_that_cannot_be_scored() -> None:
    d = decide(CAND, None, _policy(min_metrics={"f1_macro": 0.8}), champion_error="model file missing")
    assert d.outcome == "promoted"
    assert _check(d, "champion").numbers == {"champion_error": "model file missing"}
    assert "champion could not be scored (model file missing)" in d.justification


def test_an_unscorable_champion_rejects_the_candidate_when_the_policy_says_so() -> None:
    why = "untrusted_model: model version 1 of churn: the artifact changed after registration"
    d = decide(CAND, None, _policy(unscorable_champion="reject"), champion_error=why)
    assert d.outcome == "rejected"
    check = _check(d, "champion")
    assert (check.passed, check.numbers) == (False, {"champion_error": why})
    assert check.detail == (
        f"champion could not be scored ({why}); promotion.unscorable_champion is reject: the champion stays"
    )
    # No champion at all is still a first model: the option only speaks of an unscorable one.
    assert decide(CAND, None, _policy(unscorable_champion="reject")).outcome == "promoted"


def test_clear_improvement_with_significant_ci_is_promoted() -> None:
    policy = _policy(min_improvement=0.02, significance=0.05)
    d = decide(CAND, CHAMP, policy, comparison=_ci(0.005, 0.035, 0.02))
    assert d.outcome == "promoted"
    # 0.82 - 0.80 is 0.0199999... in floating point and still meets a 0.02 requirement.
    assert d.delta == pytest.approx(0.02, abs=1e-15)
    assert _check(d, "improvement").passed
    assert (d.ci_low, d.ci_high) == (0.005, 0.035)
    assert d.justification == (
        "Promoted: candidate f1_macro 0.8200 vs champion (version 1) 0.8000, delta +0.0200, "
        "95% CI [+0.0050, +0.0350]. All 2 gates passed."
    )


def test_improvement_below_minimum_is_rejected() -> None:
    d = decide(ModelScore("2", {"f1_macro": 0.81}), CHAMP, _policy(min_improvement=0.02))
    assert d.outcome == "rejected"
    assert _check(d, "improvement").numbers["improvement"] == pytest.approx(0.01, abs=1e-15)
    assert "does not meet the requirement: at least 0.0200" in d.justification


def test_tie_is_not_an_improvement_when_min_improvement_is_zero() -> None:
    d = decide(ModelScore("2", {"f1_macro": 0.80}), CHAMP, _policy(min_improvement=0.0))
    assert d.outcome == "rejected"
    assert _check(d, "improvement").numbers["improvement"] == 0.0
    assert "a tie is not an improvement" in _check(d, "improvement").detail


def test_any_gain_counts_when_min_improvement_is_zero() -> None:
    assert decide(ModelScore("2", {"f1_macro": 0.8001}), CHAMP, _policy()).outcome == "promoted"


def test_lower_is_better_metric() -> None:
    policy = _policy(
        metric="rmse", lower_is_better=True, min_improvement=0.1, significance=0.05, min_metrics={"rmse": 2.0}
    )
    cand, champ = ModelScore("2", {"rmse": 1.5}), ModelScore("1", {"rmse": 1.7})
    d = decide(cand, champ, policy, comparison=_ci(-0.3, -0.05, -0.2))
    assert d.outcome == "promoted"
    assert d.delta == pytest.approx(-0.2, abs=1e-15)
    assert _check(d, "improvement").numbers["improvement"] == pytest.approx(0.2, abs=1e-15)
    sig = _check(d, "significance").numbers
    assert (sig["oriented_ci_low"], sig["oriented_ci_high"]) == (0.05, 0.3)
    assert _check(d, "min_metric:rmse").detail == "rmse 1.5000 ≤ maximum 2.0000"
    worse = decide(ModelScore("2", {"rmse": 1.8}), champ, policy, comparison=_ci(0.0, 0.2))
    assert worse.outcome == "rejected"
    assert _check(worse, "improvement").numbers["improvement"] == pytest.approx(-0.1, abs=1e-15)
    too_high = decide(ModelScore("2", {"rmse": 2.5}), None, policy)
    assert _check(too_high, "min_metric:rmse").detail == "rmse 2.5000 > maximum 2.0000"


def test_ci_straddling_zero_is_rejected() -> None:
    d = decide(CAND, CHAMP, _policy(significance=0.05), comparison=_ci(-0.01, 0.05, 0.02))
    assert d.outcome == "rejected"
    assert [c.passed for c in d.checks] == [True, False]
    assert (
        _check(d, "significance").detail == "95% CI of the improvement [-0.0100, +0.0500] does not exclude 0"
    )


def test_significance_without_comparison_fails_clearly() -> None:
    d = decide(CAND, CHAMP, _policy(significance=0.05))
    assert d.outcome == "rejected"
    assert (
        _check(d, "significance").detail == "significance is required but no bootstrap comparison was given"
    )


def test_slice_regression_reports_worst_slice() -> None:
    cand = ModelScore(
        "2",
        {"f1_macro": 0.85},
        {
            "plan": {
                "a": {"rows": 50, "value": 0.70},
                "b": {"rows": 40, "value": 0.90},
                "c": {"rows": 40, "value": 0.10},
            }
        },
    )
    champ = ModelScore(
        "1",
        {"f1_macro": 0.80},
        {"plan": {"a": {"rows": 50, "value": 0.80}, "b": {"rows": 40, "value": 0.88}}},
    )
    d = decide(cand, champ, _policy(max_slice_regression=0.05))
    assert d.outcome == "rejected"
    s = _check(d, "slices")
    assert s.numbers["worst_column"] == "plan" and s.numbers["worst_value"] == "a"
    assert s.numbers["worst_regression"] == pytest.approx(0.1, abs=1e-15)
    assert s.numbers["slices_compared"] == 2  # "c" has no champion value
    per = {
        (x["column"], x["value"]): (x["rows"], x["candidate"], x["champion"]) for x in s.numbers["per_slice"]
    }
    assert per == {("plan", "a"): (50, 0.70, 0.80), ("plan", "b"): (40, 0.90, 0.88)}
    assert "worst slice plan=a: f1_macro worse by +0.1000, exceeds the allowed 0.0500" in d.justification
    assert decide(cand, champ, _policy(max_slice_regression=0.1)).outcome == "promoted"


def test_require_approval_waits() -> None:
    d = decide(CAND, CHAMP, _policy(require_approval=True))
    assert d.outcome == "pending_approval"
    assert d.justification.endswith("A person must approve the promotion.")
    assert (
        decide(ModelScore("2", {"f1_macro": 0.7}), CHAMP, _policy(require_approval=True)).outcome
        == "rejected"
    )


def test_candidate_without_the_metric_is_rejected() -> None:
    d = decide(ModelScore("2", {"accuracy": 0.9}), CHAMP, _policy())
    assert d.outcome == "rejected"
    assert _check(d, "improvement").detail == "candidate has no value for f1_macro"


def test_from_config_and_json_safe_dict() -> None:
    cfg = PromotionConfig(
        min_metrics={"rmse": 3.0},
        min_improvement=0.1,
        significance=0.05,
        max_slice_regression=0.2,
        require_approval=True,
    )
    policy = Policy.from_config(cfg, "rmse")
    assert policy == Policy("rmse", {"rmse": 3.0}, 0.1, 0.05, 0.2, True, True)
    d = decide(
        ModelScore("2", {"rmse": 1.0}),
        ModelScore("1", {"rmse": float("nan")}),
        policy,
        comparison=_ci(float("nan"), float("nan")),
    )
    out = d.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["outcome"] == "rejected"
    assert out["champion_value"] is None
    assert out["checks"][1] == {
        "name": "improvement",
        "passed": False,
        "detail": "champion has no value for rmse",
        "numbers": {"candidate": 1.0, "champion": None, "min_improvement": 0.1},
    }
