from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from evergreen.config import Settings
from evergreen.data.contract import Contract, check_batch, feature_kinds, infer_contract, validate
from evergreen.errors import DataValidationError

SettingsFactory = Callable[..., Settings]

LONG = "the customer wrote a rather long complaint about billing"


def _frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(n)),
            "tenure": [float(i) for i in range(n)],
            "count": list(range(n)),
            "plan": ["a", "b"] * (n // 2),
            "flag": [True, False] * (n // 2),
            "note": [f"{LONG} {i}" for i in range(n)],
            "y": [0, 1] * (n // 2),
        }
    )


def _fails(df: pd.DataFrame, contract: Contract, settings: object, reason: str) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate(df, contract, settings, "b.csv")  # type: ignore[arg-type]
    err = info.value
    assert err.reason == reason, err.message
    assert err.message.startswith("b.csv: ")
    assert "\n" not in err.message
    return err


def test_infers_kinds_and_excludes_reserved(make_settings: SettingsFactory) -> None:
    s = make_settings(id_column="id")
    c = infer_contract(_frame(), s)
    assert feature_kinds(c) == (("tenure", "count"), ("plan", "flag"), ("note",))
    assert c.target_classes == (0, 1)
    assert c.columns == ("id", "tenure", "count", "plan", "flag", "note", "y")
    plan = next(f for f in c.features if f.name == "plan")
    assert plan.categories == ("a", "b")
    flag = next(f for f in c.features if f.name == "flag")
    assert flag.categories == ("False", "True")


def test_short_unique_words_are_text_but_codes_are_categorical(make_settings: SettingsFactory) -> None:
    df = pd.DataFrame(
        {
            "words": ["red big dog", "blue small cat", "green tall tree", "old grey house"],
            "codes": ["AB-1", "AB-2", "AB-3", "AB-4"],  # unique but one word each
            "y": [0, 1, 0, 1],
        }
    )
    c = infer_contract(df, make_settings())
    assert feature_kinds(c) == ((), ("codes",), ("words",))


def test_configured_features_win(make_settings: SettingsFactory) -> None:
    s = make_settings(features={"numeric": ["count"], "categorical": ["plan"], "text": []})
    c = infer_contract(_frame(), s)
    assert c.feature_names == ("count", "plan")


def test_round_trip_through_json(make_settings: SettingsFactory) -> None:
    s = make_settings(id_column="id", ranges={"tenure": [0, 100]}, categories={"plan": ["a", "b", "c"]})
    c = infer_contract(_frame(), s)
    again = Contract.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c
    tenure = next(f for f in again.features if f.name == "tenure")
    assert (tenure.min, tenure.max) == (0, 100)


def test_binary_needs_two_classes(make_settings: SettingsFactory) -> None:
    df = _frame().assign(y=[0, 1, 2, 0, 1, 2])
    with pytest.raises(DataValidationError) as info:
        infer_contract(df, make_settings(), "first.csv")
    assert info.value.reason == "bad_target"
    assert info.value.column == "y"


def test_valid_batch_keeps_contract_order_and_drops_extras(make_settings: SettingsFactory) -> None:
    s = make_settings(id_column="id")
    c = infer_contract(_frame(), s)
    df = _frame()[["y", "note", "plan", "flag", "count", "tenure", "id"]].assign(extra=1)
    res = check_batch(df, c, s, "b.csv")
    assert tuple(res.frame.columns) == c.columns
    assert res.dropped_columns == ("extra",)
    assert res.labelled_rows == 6
    assert res.frame["id"].tolist() == ["0", "1", "2", "3", "4", "5"]
    assert str(res.frame["y"].dtype) == "Int64"
    assert res.frame["tenure"].dtype == np.float64


def test_ints_where_floats_expected_and_numeric_strings_are_fine(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    df = _frame().assign(tenure=[1, 2, 3, 4, 5, 6], count=["1", "2", " 3", "4", None, "6"])
    out = validate(df, c, s, "b.csv")
    assert out["tenure"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert out["count"].tolist()[:4] == [1.0, 2.0, 3.0, 4.0]


def test_missing_column(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    err = _fails(_frame().drop(columns=["plan"]), c, s, "missing_column")
    assert err.column == "plan"
    assert "'plan'" in err.message


def test_wrong_type_message(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    df = _frame().astype({"tenure": object})
    df.loc[2, "tenure"] = "abc"
    df.loc[3, "tenure"] = None  # a null is missing, not a wrong type: still 1 bad row
    err = _fails(df, c, s, "wrong_type")
    assert err.message == (
        "b.csv: column 'tenure': wrong type: expected numeric, found text values like 'abc' (1 rows)"
    )


def test_unseen_target_label(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    err = _fails(_frame().assign(y=[0, 1, 0, 1, 7, 1]), c, s, "unseen_target_label")
    assert err.column == "y"
    assert "'7'" in err.message


def test_labels_match_across_types(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    # A CSV target with a gap becomes float; JSON may give strings. Both are the classes 0 and 1.
    out = validate(_frame().assign(y=[0.0, 1.0, None, 1.0, 0.0, 1.0]), c, s, "b.csv")
    assert out["y"].tolist()[:2] == [0, 1]
    out = validate(_frame().assign(y=["0", "1", "0", "1", "0", "1"]), c, s, "b.csv")
    assert out["y"].tolist()[:2] == [0, 1]


def test_regression_target_must_be_numeric(make_settings: SettingsFactory) -> None:
    s = make_settings(task="regression")
    c = infer_contract(_frame(), s)
    err = _fails(_frame().assign(y=["1.5", "x", "2", "3", "4", "5"]), c, s, "bad_target")
    assert err.column == "y"


def test_unlabelled_batches_are_valid(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    no_target = check_batch(_frame().drop(columns=["y"]), c, s, "b.csv")
    assert no_target.labelled_rows == 0
    assert tuple(no_target.frame.columns) == c.columns
    null_target = check_batch(_frame().assign(y=None), c, s, "b.csv")
    assert null_target.labelled_rows == 0


def test_all_null_column(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    assert _fails(_frame().assign(plan=None), c, s, "all_null_column").column == "plan"


def test_null_rate_exceeded(make_settings: SettingsFactory) -> None:
    s = make_settings(max_null_rate=0.3)
    c = infer_contract(_frame(), s)
    df = _frame().assign(tenure=[1.0, np.nan, np.nan, 4.0, 5.0, 6.0])  # 33% null
    err = _fails(df, c, s, "null_rate_exceeded")
    assert err.column == "tenure"
    assert "33.3%" in err.message and "30.0%" in err.message
    out = validate(_frame().assign(tenure=[1.0, np.nan, 3, 4, 5, 6]), c, s, "b.csv")  # 17% null is allowed
    assert out["tenure"].isna().sum() == 1


def test_non_finite_values(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    err = _fails(_frame().assign(tenure=[1, np.inf, -np.inf, 4, 5, 6]), c, s, "non_finite_values")
    assert err.column == "tenure"
    assert "2 infinite" in err.message


def test_out_of_range(make_settings: SettingsFactory) -> None:
    s = make_settings(ranges={"tenure": [0, 4]})
    c = infer_contract(_frame().assign(tenure=[0, 1, 2, 3, 4, 4]), s)
    err = _fails(_frame(), c, s, "out_of_range")
    assert err.column == "tenure"
    assert "1 values outside the allowed range [0, 4]" in err.message


def test_new_categories_allowed_or_rejected(make_settings: SettingsFactory) -> None:
    lenient = make_settings()
    c = infer_contract(_frame(), lenient)
    res = check_batch(_frame().assign(plan=["a", "z"] * 3), c, lenient, "b.csv")
    assert res.new_categories == {"plan": ["z"]}
    strict = make_settings(allow_new_categories=False)
    c = infer_contract(_frame(), strict)
    err = _fails(_frame().assign(plan=["a", "z"] * 3), c, strict, "unseen_category")
    assert err.column == "plan" and "'z'" in err.message


def test_configured_categories_are_always_enforced(make_settings: SettingsFactory) -> None:
    s = make_settings(categories={"plan": ["a"]})
    c = infer_contract(_frame(), s)
    assert _fails(_frame(), c, s, "unseen_category").column == "plan"


def test_duplicate_rows_rejected_or_dropped(make_settings: SettingsFactory) -> None:
    df = pd.concat([_frame(), _frame().iloc[[1, 2]]], ignore_index=True)
    reject = make_settings()
    err = _fails(df, infer_contract(_frame(), reject), reject, "duplicate_rows")
    assert "2 exact duplicate rows" in err.message
    drop = make_settings(duplicate_rows="drop")
    res = check_batch(df, infer_contract(_frame(), drop), drop, "b.csv")
    assert len(res.frame) == 6 and res.duplicates_dropped == 2


def test_zero_rows_is_empty_file(make_settings: SettingsFactory) -> None:
    s = make_settings()
    c = infer_contract(_frame(), s)
    _fails(_frame().iloc[0:0], c, s, "empty_file")


def test_timestamp_column_is_parsed_to_utc(make_settings: SettingsFactory) -> None:
    s = make_settings(timestamp_column="ts")
    df = _frame().assign(ts=[f"2024-01-0{i + 1}T10:00:00Z" for i in range(6)])
    c = infer_contract(df, s)
    out = validate(df, c, s, "b.csv")
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"
    assert "ts" not in c.feature_names
    bad = df.assign(ts=["2024-01-01", "not a date", None, None, None, None])
    with pytest.raises(DataValidationError) as info:
        validate(bad, c, s, "b.csv")
    assert info.value.reason == "wrong_type" and info.value.column == "ts"
    assert "'not a date' (1 rows)" in info.value.message  # the four nulls are not counted


@pytest.mark.parametrize(
    "epoch",
    [1e20, 1e12, pd.Timestamp.max.value / 1e9, pd.Timestamp.min.value / 1e9],  # the edges wrapped
)
def test_an_epoch_out_of_range_is_a_wrong_type_not_a_crash_or_a_missing_time(epoch: float) -> None:
    # 1e20 raised OverflowError, which stopped the whole ingest; 1e12 (milliseconds, likely) was
    # stored as no timestamp at all, silently.
    from evergreen.data.checks import to_timestamps

    with pytest.raises(DataValidationError, match="found epoch seconds out of range like") as exc:
        to_timestamps(pd.Series([1.7e9, epoch, np.nan]), "event_time", "f.csv")
    assert (exc.value.reason, exc.value.column) == ("wrong_type", "event_time")
    ok = to_timestamps(pd.Series([1.7e9, np.nan]), "event_time", "f.csv")
    assert ok.iloc[0] == pd.Timestamp("2023-11-14 22:13:20", tz="UTC") and pd.isna(ok.iloc[1])


def test_what_ingest_refuses_is_one_rule_for_ingest_and_monitoring() -> None:
    """The range and category rules both sides apply (ingest refuses the batch, monitoring sets the
    value aside): one home each, so they cannot drift apart."""
    from evergreen.data.checks import outside_range, range_text
    from evergreen.data.contract import ColumnSpec

    values = np.array([-1.0, 0.0, np.nan, 5.0, 5.5, np.inf])
    assert outside_range(values, 0, 5).tolist() == [True, False, False, False, True, True]
    assert outside_range(pd.Series([1, None, 7], dtype="Int64"), None, 5).tolist() == [False, False, True]
    assert (range_text(0, None), range_text(None, 2.5)) == ("[0, inf]", "[-inf, 2.5]")

    learnt = ColumnSpec("plan", "categorical", "string", 0.0, categories=("a", "b"))
    fixed = ColumnSpec("plan", "categorical", "string", 0.0, categories=("a",), categories_fixed=True)
    numeric = ColumnSpec("tenure", "numeric", "float", 0.0)
    assert [learnt.refused_categories_by(True), learnt.refused_categories_by(False)] == [
        None,
        "data.allow_new_categories: false",
    ]
    assert [fixed.refused_categories_by(True), numeric.refused_categories_by(False)] == [
        "data.categories",
        None,
    ]
