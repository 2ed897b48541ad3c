"""Validation of request records against a model signature: exact errors, no model needed."""

from __future__ import annotations

import math

import pytest

from evergreen.errors import BadInputError, MalformedJSONError
from evergreen.serving.payload import parse_json, predict_records
from evergreen.serving.schema import schema_from_signature, to_frame, validate_records

SIGNATURE = [
    {"type": "double", "name": "tenure", "required": True},
    {"type": "long", "name": "calls", "required": True},
    {"type": "string", "name": "plan", "required": True},
    {"type": "boolean", "name": "vip", "required": False},
]
SCHEMA = schema_from_signature(SIGNATURE, passthrough=["customer_id"])
GOOD = {"tenure": 1.5, "calls": 2, "plan": "basic", "vip": True}


def _error(records: list[object], many: bool = True, extra: str = "refuse") -> BadInputError:
    with pytest.raises(BadInputError) as info:
        validate_records(SCHEMA, records, many=many, extra=extra)  # type: ignore[arg-type]
    return info.value


def test_a_valid_record_passes_unchanged() -> None:
    assert validate_records(SCHEMA, [GOOD], many=False, extra="refuse") == [GOOD]


def test_missing_field_is_named() -> None:
    err = _error([{k: v for k, v in GOOD.items() if k != "plan"}], many=False)
    assert err.http_status == 422
    assert err.details["field"] == "plan"
    assert err.message == "missing field 'plan' (string)"


def test_optional_field_may_be_absent_and_null_is_allowed() -> None:
    rec = {"tenure": None, "calls": 1, "plan": "x"}
    assert validate_records(SCHEMA, [rec], many=False, extra="refuse") == [rec]


@pytest.mark.parametrize(
    ("field", "value", "got"),
    [
        ("tenure", "12", "string"),
        ("tenure", True, "boolean"),
        ("calls", 1.5, "number"),
        ("plan", 3, "number"),
        ("vip", 1, "number"),
        ("tenure", [1], "array"),
        ("tenure", math.inf, "non-finite number"),
    ],
)
def test_mistyped_field_is_named_with_types(field: str, value: object, got: str) -> None:
    err = _error([GOOD, {**GOOD, field: value}])
    first = err.details["errors"][0]
    assert (first["record"], first["field"], first["problem"], first["got"]) == (1, field, "wrong_type", got)
    assert err.message.startswith(f"record 1: field '{field}' must be ")


def test_integral_float_is_accepted_for_long() -> None:
    assert validate_records(SCHEMA, [{**GOOD, "calls": 3.0}], many=False, extra="refuse")


def test_unknown_fields_refused_or_dropped_by_configuration() -> None:
    rec = {**GOOD, "colour": "red", "customer_id": "C1"}
    err = _error([rec], many=False, extra="refuse")
    assert err.details["field"] == "colour" and len(err.details["errors"]) == 1  # passthrough is known
    assert validate_records(SCHEMA, [rec], many=False, extra="ignore") == [{**GOOD, "customer_id": "C1"}]


def test_pii_drop_fields_are_removed_not_refused() -> None:
    rec = {**GOOD, "email": "a@b.example"}
    drop = frozenset({"email"})
    assert validate_records(SCHEMA, [rec], many=False, extra="refuse", drop=drop) == [GOOD]
    assert rec["email"] == "a@b.example"  # the caller's record is not changed
    # another unknown field beside it is still refused, and named
    err = _error([{**rec, "colour": "red"}], many=False)  # without drop= both are unknown
    assert [e["field"] for e in err.details["errors"]] == ["email", "colour"]
    with pytest.raises(BadInputError) as exc:
        validate_records(SCHEMA, [{**rec, "colour": "red"}], many=False, extra="refuse", drop=drop)
    assert [e["field"] for e in exc.value.details["errors"]] == ["colour"]


def test_a_record_that_is_not_an_object() -> None:
    assert _error([GOOD, "text"]).details["errors"][0]["problem"] == "not_an_object"


def test_frame_has_signature_columns_in_order_with_nan_for_null() -> None:
    frame = to_frame(SCHEMA, [GOOD, {"tenure": None, "calls": 1, "plan": "x", "customer_id": "C"}])
    assert list(frame.columns) == ["tenure", "calls", "plan", "vip"]
    assert frame["tenure"].dtype == "float64" and math.isnan(frame["tenure"][1])
    assert frame["vip"].tolist() == [True, None]


def test_schema_compatibility() -> None:
    extra_required = schema_from_signature([*SIGNATURE, {"type": "double", "name": "new", "required": True}])
    retyped = schema_from_signature([{**SIGNATURE[0], "type": "string"}, *SIGNATURE[1:]])
    fewer = schema_from_signature(SIGNATURE[:2])
    assert extra_required.compatible_with(SCHEMA) == "new required field 'new'"
    assert retyped.compatible_with(SCHEMA) == "field 'tenure' changes type from double to string"
    assert fewer.compatible_with(SCHEMA) is None


def test_unsupported_signature_is_refused() -> None:
    with pytest.raises(BadInputError, match="unsupported signature column"):
        schema_from_signature([{"type": "tensor", "name": "x"}])


def test_payload_shapes() -> None:
    assert predict_records({"record": GOOD}, 10) == ([GOOD], False)
    assert predict_records({"records": [GOOD, GOOD]}, 10) == ([GOOD, GOOD], True)
    for bad, field in [
        ([], "(body)"),
        ({}, "record"),
        ({"records": []}, "records"),
        ({"record": GOOD, "records": [GOOD]}, "records"),
    ]:
        with pytest.raises(BadInputError) as info:
            predict_records(bad, 10)
        assert info.value.details["field"] == field
    with pytest.raises(BadInputError, match="at most 2"):
        predict_records({"records": [GOOD] * 3}, 2)


@pytest.mark.parametrize("body", [b"", b"  ", b"{", b"\xff\xfe", b'{"record": }'])
def test_malformed_json_is_a_400(body: bytes) -> None:
    with pytest.raises(MalformedJSONError) as info:
        parse_json(body)
    assert info.value.http_status == 400
