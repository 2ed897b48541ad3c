"""What a caller hands ``data_drift``, ``multivariate_drift`` and ``estimate_performance``: each bad
input is one BadInputError naming the argument or column (found by a hostile-input pass: each of
these gave a library error from deep inside or, worse, a number)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from evergreen.errors import BadInputError
from evergreen.monitoring import data_drift, estimate_performance, multivariate_drift
from evergreen.monitoring.arguments import check_number, check_whole_number, value_family


def _numbers(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n) + shift, "k": np.ones(n)})


def _multiclass(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet([2.0, 2.0, 2.0], n)
    labels = np.array(["a", "b", "c"])
    return pd.DataFrame(
        {
            "pa": p[:, 0],
            "pb": p[:, 1],
            "pc": p[:, 2],
            "pred": labels[p.argmax(axis=1)],
            "y": labels[(rng.random(n)[:, None] > p.cumsum(axis=1)).sum(axis=1).clip(0, 2)],
        }
    )


MULTI: dict[str, Any] = {
    "task": "multiclass",
    "y_pred": "pred",
    "y_true": "y",
    "y_pred_proba": {"a": "pa", "b": "pb", "c": "pc"},
}


@pytest.mark.parametrize("as_text", ["current", "reference"])
def test_a_column_of_numbers_on_one_side_and_text_on_the_other_is_refused(as_text: str) -> None:
    # Before: the text side decided the kind, so a shift of five standard deviations was "no drift"
    # (data_drift compared the strings; multivariate_drift dropped the column).
    ref, cur = _numbers(3000, 0.0, 1), _numbers(3000, 5.0, 2)
    if as_text == "current":
        cur = cur.assign(x=cur["x"].astype(str))
    else:
        ref = ref.assign(x=ref["x"].astype(str))
    for test in (data_drift, multivariate_drift):
        with pytest.raises(BadInputError, match=r"column 'x' holds (numbers|text) in the reference") as exc:
            test(ref, cur)
        assert exc.value.details == "x"


def test_a_kind_given_reads_both_sides_as_that_kind() -> None:
    ref, cur = _numbers(500, 0.0, 1), _numbers(500, 0.0, 2)
    report = data_drift(ref, cur.assign(x=cur["x"].astype(str)), kinds={"x": "numeric"})
    assert report["x"].kind == "numeric" and not report["x"].drifted


def test_value_families() -> None:
    assert value_family(pd.Series([1.5, 2.0])) == "numbers"
    assert value_family(pd.Series(["1.5", None, "2"])) == "text"
    assert value_family(pd.Series([1, 2], dtype=object)) == "numbers"
    assert value_family(pd.Series(pd.to_datetime(["2024-01-01"]))) == "dates"
    assert value_family(pd.Series(["a", "b"], dtype="category")) == "text"
    assert value_family(pd.Series([True, False])) is None  # a flag compares with 0/1 and text alike
    assert value_family(pd.Series([None, None], dtype=object)) is None
    assert value_family(pd.Series([1, "a"], dtype=object)) is None  # mixed: no verdict
    assert value_family(pd.Series([np.nan, np.nan])) is None  # empty: it holds nothing


def test_a_column_the_multivariate_test_leaves_out_may_change_its_sort() -> None:
    # Dates in the reference, ISO text in the window: the test never used the column (it was
    # skipped before the checks came), so it still runs on the others.
    ref, cur = _numbers(500, 0.0, 1), _numbers(500, 0.0, 2)
    ref["t"] = pd.date_range("2024-01-01", periods=500, freq="h")
    cur["t"] = pd.date_range("2024-02-01", periods=500, freq="h").strftime("%Y-%m-%dT%H:%M:%S")
    result = multivariate_drift(ref, cur)
    assert "t" not in dict(result.importances) and not result.drifted


def test_multiclass_probabilities_that_do_not_sum_to_one_are_refused() -> None:
    ref, cur = _multiclass(2000, 1), _multiclass(500, 2)
    # Before: rows of zeros estimated an accuracy of 0.33 against a realised 0.75, silently.
    with pytest.raises(BadInputError, match="rows in the current data must sum to 1: 500 rows") as exc:
        estimate_performance(ref, cur.assign(pa=0.0, pb=0.0, pc=0.0), **MULTI)
    assert exc.value.details == "y_pred_proba"
    with pytest.raises(BadInputError, match="rows in the reference data must sum to 1"):
        estimate_performance(ref.assign(pa=ref["pa"] / 2), cur, **MULTI)
    est = estimate_performance(ref, cur, **MULTI)  # the same frames, valid, are read
    assert est.chunks[0].metrics["accuracy"].estimated is not None


def test_reference_probabilities_out_of_range_are_refused() -> None:
    ref, cur = _multiclass(2000, 1), _multiclass(500, 2)
    binary = {"task": "binary", "y_pred": "pred", "y_true": "y", "y_pred_proba": "pb"}
    ref_b = ref.assign(y=(ref["y"] == "b").astype(int), pred=(ref["pb"] >= 0.5).astype(int))
    cur_b = cur.assign(y=(cur["y"] == "b").astype(int), pred=(cur["pb"] >= 0.5).astype(int))
    with pytest.raises(BadInputError, match="reference data must be numbers in \\[0, 1\\]"):
        estimate_performance(ref_b.assign(pb=ref_b["pb"] * 3), cur_b, **binary)


def test_a_proba_mapping_must_name_distinct_columns_for_the_reference_classes() -> None:
    ref, cur = _multiclass(1000, 1), _multiclass(200, 2)
    cases = [
        ({"a": "pa", "b": "pa", "c": "pc"}, "maps two classes to the same column"),
        (
            {"x": "pa", "y": "pb", "z": "pc"},
            "y_true holds classes in the reference that y_pred_proba does not map",
        ),
        ({0: "pa", "b": "pb", "c": "pc"}, "mix types that do not sort"),
        (["pa", "pb", "pc"], "must be a column name \\(binary\\) or a mapping"),
    ]
    for mapping, message in cases:
        with pytest.raises(BadInputError, match=message) as exc:
            estimate_performance(ref, cur, **{**MULTI, "y_pred_proba": mapping})
        assert exc.value.details == "y_pred_proba"
    with pytest.raises(BadInputError, match="binary y_pred_proba must map 2 classes, it maps 3"):
        estimate_performance(ref, cur, **{**MULTI, "task": "binary"})


def test_an_unknown_label_in_the_current_y_true_is_refused_like_y_pred() -> None:
    ref, cur = _multiclass(1000, 1), _multiclass(200, 2)
    cur.loc[7, "y"] = "d"  # before: sklearn's "y_true contains label ... not among classes"
    with pytest.raises(BadInputError, match="y_true holds 1 values that are not classes") as exc:
        estimate_performance(ref, cur, **MULTI)
    assert exc.value.details == "y_true"


def test_missing_duplicate_and_non_frame_inputs_name_what_is_wrong() -> None:
    ref, cur = _multiclass(300, 1), _multiclass(100, 2)
    cases: list[tuple[Any, Any, str, Any]] = [
        (ref, cur.drop(columns="pred"), "current data lacks the y_pred column", "y_pred"),
        (ref.drop(columns="pred"), cur, "reference data lacks the y_pred column", "y_pred"),
        (ref, cur.iloc[:0], "the current data has no rows", "current"),
        (ref["pa"], cur, "must be a pandas DataFrame, not Series", "reference"),
        (ref, pd.concat([cur, cur["pa"]], axis=1), "duplicate column names \\['pa'\\]", "current"),
    ]
    for r, c, message, field in cases:
        with pytest.raises(BadInputError, match=message) as exc:
            estimate_performance(r, c, **MULTI)
        assert exc.value.details == field
    with pytest.raises(BadInputError, match="task 'binray'") as exc:
        estimate_performance(ref, cur, **{**MULTI, "task": "binray"})
    assert exc.value.details == "task"


def test_regression_inputs() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"price[usd]": rng.normal(size=500), "pred": rng.normal(size=500)})
    ref["y"] = ref["pred"] + rng.normal(size=500)
    cur = ref.iloc[:200].copy()
    # A name LightGBM refuses (JSON characters) is fine: the error models see positions.
    est = estimate_performance(ref, cur, task="regression", y_pred="pred", y_true="y")
    assert est.chunks[0].metrics["mae"].estimated is not None
    args: dict[str, Any] = {"task": "regression", "y_pred": "pred", "y_true": "y"}
    for frame, extra, message, field in [
        (cur.assign(pred=np.inf), {}, "y_pred must be a finite number", "y_pred"),
        (cur.assign(pred="high"), {}, "hold values that are not numbers", "y_pred"),
        (cur, {"features": "price[usd]"}, "features must be a list", "features"),
        (cur, {"features": ["zz"]}, "reference data lacks the features column", "features"),
    ]:
        with pytest.raises(BadInputError, match=message) as exc:
            estimate_performance(ref, frame, **args, **extra)
        assert exc.value.details == field
    # An infinite label is no label: the realised values come from the others.
    labelled = estimate_performance(
        ref, cur.assign(y=np.where(np.arange(200) == 0, np.inf, cur["y"])), **args
    )
    assert labelled.chunks[0].metrics["mae"].realised == pytest.approx(
        float(np.mean(np.abs(cur["y"].iloc[1:] - cur["pred"].iloc[1:]))), abs=1e-12
    )


def test_multivariate_names_lightgbm_refuses_and_mixed_name_types() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {"price[usd]": rng.normal(size=400), 0: rng.normal(size=400), ("a", 1): rng.normal(size=400)}
    )
    cur = ref.assign(**{"price[usd]": ref["price[usd]"] + 3})
    result = multivariate_drift(ref, cur)
    assert result.drifted and result.top_columns[0] == "price[usd]"


def test_per_column_options_and_scalars_are_checked() -> None:
    ref, cur = _numbers(300, 0.0, 1), _numbers(300, 0.0, 2)
    calls: list[tuple[Any, str, str]] = [
        (lambda: data_drift(ref, cur, kinds={"x": "num"}), "unknown kind 'num' for column 'x'", "kinds"),
        (
            lambda: multivariate_drift(ref, cur, kinds={"zz": "numeric"}),
            "column 'zz' is not in the current",
            "kinds",
        ),
        (
            lambda: data_drift(ref, cur, thresholds={"x": "0.1"}),
            r"thresholds\['x'\] must be a number",
            "thresholds['x']",
        ),
        (lambda: data_drift(ref, cur, drift_share=-1), "drift_share must be a number above 0", "drift_share"),
        (lambda: multivariate_drift(ref, cur, max_rows=0), "max_rows must be at least 5, not 0", "max_rows"),
        (lambda: multivariate_drift(ref, cur, seed=None), "seed must be a whole number", "seed"),
    ]
    for call, message, field in calls:
        with pytest.raises(BadInputError, match=message) as exc:
            call()
        assert exc.value.details == field
    three = pd.DataFrame({"c": ["a", "b", "c"] * 100})
    with pytest.raises(BadInputError, match="column 'c', method 'z'") as exc:
        data_drift(three, three, methods={"c": "z"})
    assert exc.value.details == "c"


def test_scalar_checks() -> None:
    assert check_whole_number(np.int64(5), "n", minimum=1) == 5
    assert check_number(3, "s", above=0.0) == 3.0
    for bad in (True, 2.5, "3"):
        with pytest.raises(BadInputError, match="n must be a whole number"):
            check_whole_number(bad, "n", minimum=1)
    for bad in (0, -1, float("nan"), float("inf"), "1", False):
        with pytest.raises(BadInputError, match=r"s must be a number above 0\.0"):
            check_number(bad, "s", above=0.0)


def test_a_bad_reference_is_named_before_a_bad_current() -> None:
    # The reference is fitted on a second thread while the current side is checked; the error
    # named is still the reference's, as when the two ran one after the other.
    ref, cur = _multiclass(1000, 1), _multiclass(200, 2)
    binary = {"task": "binary", "y_pred": "pred", "y_true": "y", "y_pred_proba": "pb"}
    ref_b = ref.assign(y=(ref["y"] == "b").astype(int), pred=7)
    cur_b = cur.assign(y=(cur["y"] == "b").astype(int), pred=(cur["pb"] >= 0.5).astype(int))
    with pytest.raises(BadInputError, match="no reference row has both a known label") as exc:
        estimate_performance(ref_b, cur_b.assign(pred=9), **binary)
    assert exc.value.details == "reference"
    with pytest.raises(BadInputError, match="y_pred holds 200 values that are not classes") as exc:
        estimate_performance(
            ref_b.assign(pred=(ref["pb"] >= 0.5).astype(int)), cur_b.assign(pred=9), **binary
        )
    assert exc.value.details == "y_pred"


def test_missing_and_infinite_probabilities_are_not_read_as_out_of_range() -> None:
    ref, cur = _multiclass(1000, 1), _multiclass(200, 2)
    binary = {"task": "binary", "y_pred": "pred", "y_true": "y", "y_pred_proba": "pb"}
    ref_b = ref.assign(y=(ref["y"] == "b").astype(int), pred=(ref["pb"] >= 0.5).astype(int))
    cur_b = cur.assign(y=(cur["y"] == "b").astype(int), pred=(cur["pb"] >= 0.5).astype(int))
    holes = ref_b.assign(pb=np.where(np.arange(1000) < 2, [np.nan, np.inf] * 500, ref_b["pb"]))
    # Reference rows without a usable probability are left out of the fit, as before.
    kept = estimate_performance(holes, cur_b, **binary)
    assert kept.chunks[0].metrics["accuracy"].estimated == pytest.approx(
        estimate_performance(ref_b.iloc[2:], cur_b, **binary).chunks[0].metrics["accuracy"].estimated,
        abs=1e-12,
    )
    with pytest.raises(BadInputError, match="on every current row \\(missing found\\)"):
        estimate_performance(
            ref_b, cur_b.assign(pb=np.where(np.arange(200) == 3, -np.inf, cur_b["pb"])), **binary
        )
    with pytest.raises(BadInputError, match="reference data must be numbers in \\[0, 1\\]"):
        estimate_performance(
            holes.assign(pb=np.where(np.arange(1000) == 5, 1.5, holes["pb"])), cur_b, **binary
        )


def test_boolean_probabilities_and_a_one_class_reference_are_refused() -> None:
    ref, cur = _multiclass(600, 1), _multiclass(200, 2)
    binary = {"task": "binary", "y_pred": "pred", "y_true": "y", "y_pred_proba": "pb"}
    ref_b = ref.assign(y=(ref["y"] == "b").astype(int), pred=(ref["pb"] >= 0.5).astype(int))
    cur_b = cur.assign(y=(cur["y"] == "b").astype(int), pred=(cur["pb"] >= 0.5).astype(int))
    with pytest.raises(BadInputError, match="\\['pb'\\] in the current data hold True/False") as exc:
        estimate_performance(ref_b, cur_b.assign(pb=cur_b["pb"] >= 0.5), **binary)
    assert exc.value.details == "y_pred_proba"
    with pytest.raises(BadInputError, match="in the reference data hold True/False"):
        estimate_performance(ref_b.assign(pb=ref_b["pb"] >= 0.5), cur_b, **binary)
    # Before: a multiclass reference of one class estimated without a word.
    with pytest.raises(BadInputError, match="y_true holds 1 class\\(es\\) in the reference") as exc:
        estimate_performance(ref.assign(y="a"), cur, **MULTI)
    assert exc.value.details == "y_true"


def test_a_missing_probability_column_object_booleans_and_unhashable_labels_name_the_argument() -> None:
    ref, cur = _multiclass(600, 1), _multiclass(200, 2)
    binary = {"task": "binary", "y_pred": "pred", "y_true": "y", "y_pred_proba": "pb"}
    ref_b = ref.assign(y=(ref["y"] == "b").astype(int), pred=(ref["pb"] >= 0.5).astype(int))
    cur_b = cur.assign(y=(cur["y"] == "b").astype(int), pred=(cur["pb"] >= 0.5).astype(int))
    for r, c, side in (
        (ref_b.drop(columns="pb"), cur_b, "reference"),
        (ref_b, cur_b.drop(columns="pb"), "current"),
    ):
        with pytest.raises(BadInputError, match=f"the {side} data lacks the y_pred_proba column") as exc:
            estimate_performance(r, c, **binary)
        assert exc.value.details == "y_pred_proba"
    flags = pd.Series(cur_b["pb"] >= 0.5, dtype=object)
    flags.iloc[0] = None  # a bool column with a hole is objects: still True/False
    with pytest.raises(BadInputError, match="in the current data hold True/False"):
        estimate_performance(ref_b, cur_b.assign(pb=flags), **binary)
    lists = cur_b.assign(y=[[1]] * 200)
    with pytest.raises(BadInputError, match="y_true holds values that cannot be compared") as exc:
        estimate_performance(ref_b, lists, **binary)
    assert exc.value.details == "y_true"
    with pytest.raises(BadInputError, match="no reference row has both") as exc:  # the reference first
        estimate_performance(ref_b.assign(pred=7), lists, **binary)
    assert exc.value.details == "reference"
