"""Window parsing and the coercion of logged rows into comparable frames."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evergreen.errors import BadInputError
from evergreen.monitoring.columns import (
    align_labels,
    coerce_features,
    in_version_order,
    log_notes,
    prediction_frame,
    probability_matrix,
    set_aside_values,
    unseen_notes,
    usable_columns,
    without,
)
from evergreen.monitoring.windows import parse_window, records_frame

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("text", "canonical", "seconds", "batch"),
    [
        ("7d", "7d", 7 * 86400, None),
        ("24h", "24h", 86400, None),
        (" 90m ", "90m", 5400, None),
        ("2w", "2w", 14 * 86400, None),
        ("45s", "45s", 45, None),
        ("12", "batch:12", None, 12),
        ("batch:3", "batch:3", None, 3),
    ],
)
def test_parse_window(text: str, canonical: str, seconds: int | None, batch: int | None) -> None:
    spec = parse_window(text)
    assert spec.text == canonical
    assert spec.batch_id == batch
    assert (spec.duration.total_seconds() if spec.duration else None) == seconds


@pytest.mark.parametrize(
    "text",
    # The last two overflowed timedelta and the SQLite integer (OverflowError, exit 1).
    ["", "7x", "0d", "-1d", "batch:", "week", "99999999999999d", "batch:99999999999999999999"],
)
def test_parse_window_rejects(text: str) -> None:
    with pytest.raises(BadInputError, match=r"^--window "):
        parse_window(text)


def test_the_longest_window_is_the_longest_age_a_key_may_hold() -> None:
    assert parse_window("365000d").duration == timedelta(days=365_000)
    with pytest.raises(BadInputError, match=r"^--window '365001d': the duration must be at most 365000d$"):
        parse_window("365001d")


def test_window_bounds_end_at_now() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_window("24h").bounds(now) == (now - timedelta(days=1), now)
    with pytest.raises(ValueError):
        parse_window("batch:1").bounds(now)


def test_coerce_features_makes_json_and_parquet_agree() -> None:
    kinds = {"n": "numeric", "c": "categorical", "t": "text"}
    parquet = pd.DataFrame({"n": [1, 2], "c": [7, 8], "t": ["a b", None], "extra": [0, 0]})
    logged = records_frame([{"n": "1", "c": 7.0, "t": "a b"}, {"n": 2.0, "c": "8"}, "not a record"])
    left, right = coerce_features(parquet, kinds), coerce_features(logged, kinds)  # type: ignore[arg-type]
    assert list(left.columns) == ["n", "c", "t"]
    assert left["n"].dtype == np.float64 and right["n"].tolist()[:2] == [1.0, 2.0]
    assert left["c"].tolist() == ["7", "8"] and right["c"].tolist() == ["7", "8", None]
    assert right["t"].tolist() == ["a b", None, None]


def test_usable_columns_explains_skips() -> None:
    ref = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.inf], "c": ["x", "y"], "d": [1.0, 1.0]})
    cur = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [None, None]})
    keep, skipped = usable_columns(ref, cur)
    assert keep == ["a"]
    assert skipped == {
        "b": "no values in the reference data",
        "c": "no values in the current data",
        "d": "not in the current data",
    }


def test_align_labels_by_canonical_string() -> None:
    assert align_labels([1, "1", 1.0, 0, None, 2, float("nan")], [0, 1]).tolist() == [
        1,
        1,
        1,
        0,
        None,
        None,
        None,
    ]
    assert align_labels(["yes", "no", "maybe"], ["no", "yes"]).tolist() == ["yes", "no", None]


def test_probability_matrix_accepts_dicts_and_lists() -> None:
    got = probability_matrix([{"no": 0.2, "yes": 0.8}, [0.6, 0.4], None, {"no": 1.0}, [0.5]], ["no", "yes"])
    assert got[:2].tolist() == [[0.2, 0.8], [0.6, 0.4]]
    assert np.isnan(got[2:]).all()


def test_prediction_frame_per_task() -> None:
    proba = np.array([[0.2, 0.8], [0.7, 0.3]])
    frame, kinds = prediction_frame("binary", ["yes", "no"], proba, ["no", "yes"])
    assert kinds == {"prediction": "categorical", "proba_yes": "numeric"}  # the complement adds nothing
    assert frame["proba_yes"].tolist() == [0.8, 0.3]
    p3 = np.array([[0.2, 0.5, 0.3]])
    frame, kinds = prediction_frame("multiclass", [1], p3, [0, 1, 2])
    assert list(kinds) == ["prediction", "proba_0", "proba_1", "proba_2"] and frame[
        "prediction"
    ].tolist() == ["1"]
    frame, kinds = prediction_frame("regression", [1.5, None], None, None)
    assert kinds == {"prediction": "numeric"}
    assert frame["prediction"].tolist()[0] == 1.5 and np.isnan(frame["prediction"].tolist()[1])


def _golden_data() -> Any:
    spec = importlib.util.spec_from_file_location("evergreen_golden_data_inputs", HERE / "golden_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("seed", "classes"), [(31, 2), (33, 3)])
def test_prediction_frame_is_the_frame_the_golden_cases_compare(seed: int, classes: int) -> None:
    # golden_evidently.json holds Evidently's verdicts on golden_data.prediction_frame; this pins
    # that evergreen builds exactly that frame from a model's outputs, so the golden test covers it.
    golden = _golden_data()
    predicted, proba = golden.prediction_outputs(np.random.default_rng(seed), 50, False, classes)
    names = ["no", "yes"] if classes == 2 else ["0", "1", "2"]
    ours, _ = prediction_frame("binary" if classes == 2 else "multiclass", predicted, proba, names)
    pd.testing.assert_frame_equal(
        ours, golden.prediction_frame(np.random.default_rng(seed), 50, False, classes)
    )


def test_probability_matrix_refuses_what_is_not_a_distribution() -> None:
    rows = [
        {"no": 0.25, "yes": 0.75},
        {"no": -0.7, "yes": 1.7},  # sums to 1, outside [0, 1]
        [0.3, 0.3],  # sums to 0.6
        {"no": None, "yes": 1.0},  # crashed the monitoring run (float(None))
        ["0.5", "0.5"],  # text
        [float("nan"), 1.0],
        [float("inf"), float("-inf")],
        [True, False],
        [0.3333, 0.6666],  # rounded by the logger: within the tolerance
    ]
    got = probability_matrix(rows, ["no", "yes"])
    assert got[0].tolist() == [0.25, 0.75] and got[8].tolist() == [0.3333, 0.6666]
    assert np.isnan(got[1:8]).all()


def test_usable_columns_needs_min_values_in_the_current_data() -> None:
    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0], "c": ["x", "y", "z"]})
    cur = pd.DataFrame({"a": [1.0, np.nan, np.inf], "c": ["x", "y", None]})
    assert usable_columns(ref, cur, min_values=2) == (
        ["c"],
        {"a": "only 1 values in the current data, fewer than min_rows 2"},
    )


def test_log_notes_count_values_set_aside_and_columns_a_version_never_sent() -> None:
    from evergreen.data.contract import ColumnSpec, Contract

    contract = Contract(
        target="t",
        task="binary",
        features=(
            ColumnSpec("fee", "numeric", "float", 0.5, min=0.0, max=100.0),
            ColumnSpec("calls", "numeric", "integer", 0.5),
            ColumnSpec("plan", "categorical", "string", 0.5, categories=("a", "b"), categories_fixed=True),
        ),
    )
    kinds = {"fee": "numeric", "calls": "numeric", "plan": "categorical"}
    records = records_frame(
        [
            {"fee": 10.0, "calls": 1, "plan": "a"},
            {"fee": "12", "calls": "two", "plan": "b"},  # "12" reads as a number, "two" does not
            {"fee": 1e308, "calls": "", "plan": None},  # 1e308: outside [0, 100]
            {"calls": 3, "plan": ""},  # v10 sends no fee: its schema dropped the field
            {"calls": float("inf"), "plan": "c", "fee": None},
        ]
    )
    features = coerce_features(records, kinds)  # type: ignore[arg-type]
    aside = set_aside_values(records, features, contract, allow_new_categories=True)
    assert [(a.column, a.rows.tolist()) for a in aside] == [
        ("fee", [False, False, True, False, False]),
        ("calls", [False, True, True, False, True]),
        ("plan", [False, False, False, True, True]),
    ]
    assert log_notes(records, features, ["9", "9", "9", "10", "10"], aside) == [
        "fee: 1 of 5 values are outside the contract's range [0, 100] (data.ranges) (v9: 1), read as missing",
        "fee: no values in the rows served by v10 (2 rows): its drift rests on the other versions' rows only",
        "calls: 3 of 5 values are not finite numbers (v9: 2, v10: 1), read as missing",
        "plan: 2 of 5 values are categories the contract does not take (data.categories) (v10: 2), "
        "read as missing",
    ]
    # One version: the counts alone; nothing is missing by version.
    assert log_notes(records, features, ["9"] * 5, aside)[1:] == [
        "calls: 3 of 5 values are not finite numbers, read as missing",
        "plan: 2 of 5 values are categories the contract does not take (data.categories), read as missing",
    ]
    kept = without(features, aside)
    assert kept["fee"].tolist()[:2] == [10.0, 12.0] and np.isnan(kept["fee"].tolist()[2:]).all()
    assert kept["plan"].tolist() == ["a", "b", None, None, None]
    clean = records.iloc[:1]
    assert set_aside_values(clean, features.iloc[:1], contract, True) == []
    assert log_notes(clean, features.iloc[:1], ["9"]) == []  # nothing to say about clean rows
    assert without(features, []) is features  # nothing set aside: no copy of a large window
    assert in_version_order({"10", "9", "100", "2"}) == ["2", "9", "10", "100"]


def test_unseen_notes_count_the_categories_the_reference_never_had() -> None:
    kinds = {"plan": "categorical", "fee": "numeric", "note": "text"}
    reference = coerce_features(
        pd.DataFrame({"plan": ["basic", "standard", "premium"] * 4, "fee": [1.0] * 12, "note": ["x"] * 12}),
        kinds,  # type: ignore[arg-type]
    )
    # After the swap, v2's clients send the plan's code instead of its name.
    current = coerce_features(
        pd.DataFrame({"plan": ["basic", None, "standard", 1, 2, 3.0], "fee": [9.0] * 6, "note": ["y"] * 6}),
        kinds,  # type: ignore[arg-type]
    )
    assert unseen_notes(reference, current, kinds, ["1", "1", "1", "2", "2", "2"]) == [  # type: ignore[arg-type]
        "plan: 3 of 5 values are categories the reference never had (v2: 3)"
    ]
    assert unseen_notes(reference, current.iloc[:3], kinds, ["1"] * 3) == []  # type: ignore[arg-type]
