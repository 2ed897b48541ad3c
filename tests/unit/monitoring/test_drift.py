"""Kinds, automatic test choice, overrides, cleaning and the report of data_drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evergreen.errors import BadInputError
from evergreen.monitoring import DriftReport, data_drift, infer_kind
from evergreen.monitoring.drift import auto_method, category_counts


def test_infer_kind_follows_evidently() -> None:
    assert infer_kind(pd.Series([1.0, 2.0])) == "numeric"
    assert infer_kind(pd.Series(np.arange(10).repeat(2))) == "categorical"  # 10 values: categorical
    assert infer_kind(pd.Series(np.arange(11))) == "numeric"  # 11 values: numeric
    assert infer_kind(pd.Series(["a", "b", "c", None])) == "text"  # 3 unique > half of 3
    assert infer_kind(pd.Series(["a", "b", "a", "b"])) == "categorical"  # 2 unique = half of 4
    assert infer_kind(pd.Series(["a", "b", "c"], dtype="string")) == "text"
    assert infer_kind(pd.Series([True, False])) == "categorical"
    assert infer_kind(pd.Series(["x", "y"] * 5, dtype="category")) == "categorical"
    assert infer_kind(pd.Series(pd.to_datetime(["2024-01-01"]))) is None
    assert infer_kind(pd.Series([[1], [2]])) is None


@pytest.mark.parametrize(
    ("kind", "rows", "n_unique", "method"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 1001, 50, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
    ],
)
def test_auto_method_table(kind: str, rows: int, n_unique: int, method: str) -> None:
    assert auto_method(kind, rows, n_unique) == method  # type: ignore[arg-type]


def _frames(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(0, 1, rows), "c": rng.choice(["a", "b", "c"], rows)})
    cur = pd.DataFrame({"x": rng.normal(0.2, 1, 800), "c": rng.choice(["a", "b", "c"], 800)})
    return ref, cur


def test_row_rule_counts_reference_rows_after_dropping_missing() -> None:
    ref, cur = _frames(1001)
    assert data_drift(ref, cur)["x"].method == "wasserstein"
    assert data_drift(ref.iloc[:1000], cur)["x"].method == "ks"
    ref.loc[:9, "x"] = np.nan  # 991 usable rows: back to the small-reference tests
    assert data_drift(ref, cur)["x"].method == "ks"
    assert data_drift(ref, cur)["c"].method == "jensenshannon"  # c still has 1001 rows


def test_known_numbers_both_regimes() -> None:
    ref, cur = _frames(1001)
    large = data_drift(ref, cur)
    # Numbers from Evidently 0.7 on the same frames (and scipy's wasserstein_distance / std).
    assert large["x"].statistic == pytest.approx(0.19889700920695652, abs=1e-12)
    assert large["x"].drifted
    assert large["c"].statistic == pytest.approx(0.0200392107625816, abs=1e-12)
    assert not large["c"].drifted
    small = data_drift(ref.iloc[:500], cur)
    assert small["x"].p_value == pytest.approx(0.04811642171387079, rel=1e-9)
    assert small["x"].drifted  # KS p <= 0.05
    assert small["c"].p_value == pytest.approx(0.7798734077720071, rel=1e-9)
    assert not small["c"].drifted


def test_nan_and_inf_are_dropped() -> None:
    ref, cur = _frames(600, seed=1)
    dirty_ref, dirty_cur = ref.copy(), cur.copy()
    dirty_ref.loc[[3, 5], "x"] = [np.nan, np.inf]
    dirty_cur.loc[[7], "x"] = -np.inf
    dirty_cur.loc[[9], "c"] = None
    dirty = data_drift(dirty_ref, dirty_cur)
    clean_x = data_drift(ref[["x"]].drop(index=[3, 5]), cur[["x"]].drop(index=[7]))["x"]
    clean_c = data_drift(ref[["c"]], cur[["c"]].drop(index=[9]))["c"]
    assert dirty["x"] == clean_x
    assert dirty["c"] == clean_c
    assert dirty["x"].method == "ks"  # 598 usable reference rows


def test_overrides_of_method_and_threshold() -> None:
    ref, cur = _frames(600, seed=2)
    report = data_drift(ref, cur, methods={"x": "psi", "c": "hellinger"}, thresholds={"x": 0.5, "c": 0.001})
    assert (report["x"].method, report["x"].threshold, report["x"].p_value) == ("psi", 0.5, None)
    assert not report["x"].drifted
    assert report["c"].method == "hellinger"
    assert report["c"].drifted
    with pytest.raises(BadInputError, match="unknown drift method"):
        data_drift(ref, cur, methods={"x": "anderson"})
    with pytest.raises(BadInputError, match="needs a numeric column"):
        data_drift(ref, cur, methods={"c": "ks"})
    with pytest.raises(BadInputError, match="not in the current data"):
        data_drift(ref, cur, thresholds={"nope": 0.1})


def test_kinds_override_inference() -> None:
    ref = pd.DataFrame({"code": [1.0, 2.0, 3.0, 4.0] * 50})
    cur = pd.DataFrame({"code": [1.0, 2.0, 3.0, 9.0] * 50})
    assert data_drift(ref, cur)["code"].kind == "numeric"
    forced = data_drift(ref, cur, kinds={"code": "categorical"})["code"]
    assert (forced.kind, forced.method, forced.p_value, forced.drifted) == (
        "categorical",
        "chisquare",
        0.0,
        True,
    )


def test_category_only_on_one_side() -> None:
    keys, ref, cur = category_counts(pd.Series(["a", "b", "a"]), pd.Series(["b", "c", None]))
    assert (keys, ref.tolist(), cur.tolist()) == (["a", "b", "c"], [2, 1, 0], [0, 1, 1])


def test_empty_column_is_bad_input() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0]})
    cur = pd.DataFrame({"x": [np.nan, np.inf]})
    with pytest.raises(BadInputError, match="empty in the current data"):
        data_drift(ref, cur)


def test_report_share_verdict_and_dict() -> None:
    ref = pd.DataFrame({"a": [0.0, 1.0] * 50, "b": [0.0, 1.0] * 50, "when": pd.Timestamp("2024-01-01")})
    cur = pd.DataFrame({"a": [1.0] * 100, "b": [0.0, 1.0] * 50, "when": pd.Timestamp("2024-01-02")})
    report = data_drift(ref, cur)
    assert isinstance(report, DriftReport)
    assert [c.column for c in report.columns] == ["a", "b"]  # datetime skipped like Evidently
    assert report.share == report.score == 0.5
    assert report.dataset_drift  # 0.5 >= default drift_share 0.5
    assert not data_drift(ref, cur, drift_share=0.6).dataset_drift
    out = report.to_dict()
    assert out["columns"]["b"] == {
        "kind": "numeric",
        "method": "z",
        "statistic": 0.0,
        "p_value": 1.0,
        "threshold": 0.05,
        "drifted": False,
        "score": 1.0,
        "status": "ok",
    }
    assert (out["share"], out["number_of_drifted_columns"], out["dataset_drift"]) == (0.5, 1, True)
    assert out["status"] == "drift" and out["columns"]["a"]["status"] == "drift"


def test_report_without_enough_rows_has_no_verdict() -> None:
    report = DriftReport((), 0.3, untested=(("a", "numeric"), ("c", "categorical")))
    assert report.insufficient
    assert (report.share, report.score, report.dataset_drift, report.number_of_drifted_columns) == (
        None,
        None,
        None,
        None,
    )
    out = report.to_dict()
    assert out["status"] == "insufficient_data" and out["number_of_columns"] == 2
    assert out["columns"]["c"] == {"kind": "categorical", "status": "insufficient_data", "drifted": None}


def test_no_column_tested_is_no_verdict() -> None:
    report = data_drift(
        pd.DataFrame({"t": pd.to_datetime(["2026-01-01"])}),
        pd.DataFrame({"t": pd.to_datetime(["2026-01-02"])}),
    )
    assert report.columns == () and (report.share, report.dataset_drift) == (None, None)
    assert report.to_dict()["status"] == "insufficient_data"
