"""Feedback labels and the rows of a feedback training batch (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evergreen.errors import BadInputError
from evergreen.serving.feedback import normalise_label, parse_feedback
from evergreen.serving.feedback_batches import feedback_frame
from evergreen.serving.model import LoadedModel
from evergreen.serving.schema import schema_from_signature

SCHEMA = schema_from_signature([{"type": "double", "name": "x"}, {"type": "string", "name": "plan"}])
CLASSIFIER = LoadedModel("1", None, SCHEMA, ("no", "yes"))
NUMERIC_CLASSES = LoadedModel("1", None, SCHEMA, (0, 1))


def test_labels_match_classes_by_canonical_text() -> None:
    assert normalise_label("yes", ("no", "yes"), "") == "yes"
    assert normalise_label(1.0, (0, 1), "") == 1
    assert normalise_label("1", (0, 1), "") == 1


@pytest.mark.parametrize("label", ["maybe", None, [1], {"a": 1}, 2])
def test_invalid_classification_label(label: object) -> None:
    with pytest.raises(BadInputError) as info:
        normalise_label(label, (0, 1), "")
    assert info.value.code == "invalid_label" and info.value.http_status == 422


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (None, 'label must be one of ["no", "yes"], got null'),
        ({"a": True}, 'label must be one of ["no", "yes"], got {"a": true}'),
        ("maybe", 'label "maybe" is not a class of the model: ["no", "yes"]'),
    ],
)
def test_a_label_error_quotes_json_as_json(label: object, message: str) -> None:
    with pytest.raises(BadInputError) as info:
        normalise_label(label, ("no", "yes"), "")
    assert info.value.message == message


def test_regression_label_must_be_finite_number() -> None:
    assert normalise_label(2.5, None, "") == 2.5
    for bad in ("2.5", True, float("nan")):
        with pytest.raises(BadInputError, match="finite number"):
            normalise_label(bad, None, "")


def test_feedback_shapes() -> None:
    one = parse_feedback(
        {"prediction_id": "p1", "label": "yes"}, CLASSIFIER, "churned", max_items=5, extra="refuse"
    )
    assert [(i.prediction_id, i.label) for i in one] == [("p1", "yes")]
    many = parse_feedback(
        {"feedback": [{"prediction_id": "a", "label": "no"}, {"prediction_id": "b", "label": "yes"}]},
        CLASSIFIER,
        "churned",
        max_items=5,
        extra="refuse",
    )
    assert [i.prediction_id for i in many] == ["a", "b"]
    labelled = parse_feedback(
        {"records": [{"x": 1.0, "plan": "a", "churned": "no"}]},
        CLASSIFIER,
        "churned",
        max_items=5,
        extra="refuse",
    )
    assert labelled[0].record == {"x": 1.0, "plan": "a"} and labelled[0].label == "no"
    # data.pii.drop fields (dropped at ingest, unknown to the model) are removed, not refused.
    for payload in (
        {"records": [{"x": 1.0, "plan": "a", "email": "j@x.org", "churned": "no"}]},
        {"record": {"x": 1.0, "plan": "a", "email": "j@x.org"}, "label": "no"},
    ):
        kept = parse_feedback(
            payload, CLASSIFIER, "churned", max_items=5, extra="refuse", drop=frozenset({"email"})
        )
        assert kept[0].record == {"x": 1.0, "plan": "a"}
    with pytest.raises(BadInputError, match="unknown field 'email'"):  # not named in data.pii.drop
        parse_feedback(payload, CLASSIFIER, "churned", max_items=5, extra="refuse")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"prediction_id": "p"}, "label"),
        ({"prediction_id": 3, "label": "no"}, "prediction_id"),
        ({"records": [{"x": 1.0, "plan": "a"}]}, "churned"),
        # A record's label is its target column, named as such (details.field was "label").
        ({"records": [{"x": 1.0, "plan": "a", "churned": "maybe"}]}, "churned"),
        ({"record": {"x": "1", "plan": "a"}, "label": "no"}, "x"),
        ({}, "prediction_id"),
        ({"other": 1}, "other"),  # a key no form takes is named (it was prediction_id, the first form's)
    ],
)
def test_bad_feedback_names_the_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(BadInputError) as info:
        parse_feedback(payload, CLASSIFIER, "churned", max_items=5, extra="refuse")
    assert info.value.details["field"] == field


def test_feedback_frame_joins_records_and_keeps_the_latest_label() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": 1,
            "prediction_id": "p1",
            "record": None,
            "label": "no",
            "received_at": t,
            "logged_record": {"x": 1.0, "plan": "a"},
            "predicted_at": t,
        },
        {
            "id": 2,
            "prediction_id": "p1",
            "record": None,
            "label": "yes",
            "received_at": t,
            "logged_record": {"x": 1.0, "plan": "a"},
            "predicted_at": t,
        },
        {
            "id": 3,
            "prediction_id": None,
            "record": {"x": 2.0, "plan": "b", "cid": "C9"},
            "label": "no",
            "received_at": t,
            "logged_record": None,
            "predicted_at": None,
        },
        {
            "id": 4,
            "prediction_id": "gone",
            "record": None,
            "label": "no",
            "received_at": t,
            "logged_record": None,
            "predicted_at": None,
        },
    ]
    frame, set_aside = feedback_frame(rows, target="churned", id_column="cid", timestamp_column="ts")
    assert set_aside == {}
    assert frame[["cid", "x", "plan", "churned"]].to_dict(orient="records") == [
        {"cid": "p1", "x": 1.0, "plan": "a", "churned": "yes"},
        {"cid": "C9", "x": 2.0, "plan": "b", "churned": "no"},
    ]
    assert (frame["ts"] == pd.Timestamp(t)).all()


def test_record_times_read_numbers_as_epoch_seconds_and_text_as_text_in_one_batch() -> None:
    """Read in one call per kind: one call for all read 1767398400 as nanoseconds (1970)."""
    import pandas as pd

    from evergreen.serving.feedback_batches import record_time, record_times

    values = {1: "2026-01-02T00:00:00Z", 2: 1767398400, 3: 1.5, 4: "not a time", 5: 2**80, 6: True}
    got = record_times(values, "event_time")
    assert got[1] == pd.Timestamp("2026-01-02", tz="UTC")
    assert got[2] == pd.Timestamp("2026-01-03", tz="UTC")
    assert got[3] == pd.Timestamp("1970-01-01 00:00:01.5", tz="UTC")
    assert {i for i, v in got.items() if isinstance(v, str)} == {4, 5, 6}  # why, for each one at fault
    assert "event_time" in str(got[4])
    for i in (1, 2, 3):  # the same as one record at a time
        assert got[i] == record_time(values[i], "event_time")


def test_contract_frame_sets_aside_only_the_rows_whose_own_values_the_contract_refuses(
    tmp_path: Path,
) -> None:
    from evergreen.config import settings_from_dict
    from evergreen.data.contract import ColumnSpec, Contract
    from evergreen.serving.feedback_batches import contract_frame

    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "y"}, "storage": {}}, root=tmp_path, env={}
    )
    fixed = ColumnSpec("plan", "categorical", "string", 1.0, categories=("a", "b"), categories_fixed=True)
    contract = Contract(
        target="y",
        task="binary",
        features=(ColumnSpec("x", "numeric", "float", 1.0), fixed),
        target_classes=("no", "yes"),
        id_column="cid",
    )
    n = 1000
    rows = [{"cid": f"c{i}", "x": i, "plan": "a", "y": "no", "extra": 2**80} for i in range(n)]
    rows[10]["x"] = "ten"
    rows[500]["plan"] = "z"  # a category the contract does not take
    rows[501]["y"] = "maybe"
    rows[998]["cid"] = {"nested": 1}
    rows[999]["x"] = 2**80  # a number: the float ingest makes of it, not a fault
    frame = pd.DataFrame(rows, index=range(100, 100 + n))  # indexed by feedback id
    out, aside = contract_frame(frame, contract, settings)
    assert sorted(aside) == [110, 600, 601, 1098]
    assert "wrong type: expected numeric" in aside[110] and "'ten'" in aside[110]
    assert "unseen_category" not in aside[600] and "categories not in the contract" in aside[600]
    assert "unseen target label" in aside[601]
    assert list(out.columns) == ["cid", "x", "plan", "y"]  # the contract's, in its order: no "extra"
    assert len(out) == n - 4 and out["x"].dtype == "float64"
    assert out.loc[1099, "x"] == float(2**80)
    out.to_parquet(tmp_path / "batch.parquet")  # every column one type a batch file holds


def _contract_frame_of_x(rows: list[dict[str, Any]], tmp_path: Path) -> tuple[pd.DataFrame, dict[int, str]]:
    """``contract_frame`` of ``rows`` under a contract of one number ``x`` and a binary ``y``."""
    from evergreen.config import settings_from_dict
    from evergreen.data.contract import ColumnSpec, Contract
    from evergreen.serving.feedback_batches import contract_frame

    settings = settings_from_dict(
        {"project": "p", "task": "binary", "data": {"target": "y"}, "storage": {}}, root=tmp_path, env={}
    )
    features = (ColumnSpec("x", "numeric", "float", 1.0),)
    contract = Contract(target="y", task="binary", features=features, target_classes=("no", "yes"))
    return contract_frame(pd.DataFrame(rows), contract, settings)


def test_contract_frame_leaves_a_column_at_fault_throughout_to_ingest(tmp_path: Path) -> None:
    """When more than a tenth of the records (at most 100) fail one column, the column is at fault,
    not the records: nothing is set aside and the column stays as it came, so ingest quarantines the
    batch with its reason (a visible batch row), as before records were set aside one by one."""
    n = 1000
    rows = [{"x": f"v{i}" if i % 5 == 0 else i, "y": "no"} for i in range(n)]  # a fifth are text
    out, aside = _contract_frame_of_x(rows, tmp_path)
    assert aside == {}
    assert len(out) == n and out["x"].tolist() == [r["x"] for r in rows]
    # 100 bad records of 1000 are still the records' fault: set aside, the others kept
    rows = [{"x": f"v{i}" if i % 10 == 0 else i, "y": "no"} for i in range(n)]
    out, aside = _contract_frame_of_x(rows, tmp_path)
    assert sorted(aside) == list(range(0, n, 10))
    assert len(out) == n - 100 and out["x"].dtype == "float64"


def test_contract_frame_sets_aside_a_small_batchs_few_bad_records(tmp_path: Path) -> None:
    """Nine records, two with text for a number: a tenth of nine is no record at all, yet two bad
    labels are the records' fault (up to three are), and the seven good ones are kept."""
    rows = [{"x": "two" if i in (2, 5) else i, "y": "no"} for i in range(9)]
    out, aside = _contract_frame_of_x(rows, tmp_path)
    assert sorted(aside) == [2, 5] and len(out) == 7
