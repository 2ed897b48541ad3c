"""The champion's input schema (its MLflow signature) and validation of request records against it.

Pure: no I/O, no model. A record is a JSON object; each field named by the signature must be present
(``null`` is allowed: the pipeline imputes), of the signature's type, and fields the signature does not
name are refused or dropped by configuration. Errors name the record and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from evergreen.data.checks import EPOCH_MAX, EPOCH_MIN
from evergreen.errors import IncompatibleSchemaError, InvalidRecordError, shown_json
from evergreen.serving.payload import display_name

ExtraFields = Literal["refuse", "ignore"]
Kind = Literal["number", "integer", "string", "boolean", "datetime"]

# MLflow ColSpec type names → what a JSON value must be.
_KINDS: dict[str, Kind] = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "datetime": "datetime",
}
# Bounds on what one request may put in a record: an int64 column takes int64 values (a larger integer
# would fail the model call of every record batched with it), text is bounded, and the pass-through
# id and time fields are short scalars because they are stored, hashed and joined on.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_STRING_CHARS = 10_000
MAX_PASSTHROUGH_CHARS = 256
_DTYPES: dict[Kind, str] = {
    "number": "float64",
    "integer": "float64",
    "string": "object",
    "boolean": "object",
    "datetime": "object",
}


# double ↔ long is not a break: earlier signatures declared integer columns double, and a client
# sending a whole number is valid for both (a fractional one for a long field gets a 422 naming it).
_NUMERIC = frozenset({"number", "integer"})


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # the MLflow type name, shown in error messages
    kind: Kind
    required: bool = True


@dataclass(frozen=True)
class InputSchema:
    fields: tuple[Field, ...]
    # Fields that are not model inputs but are kept with the logged record (id and time columns).
    passthrough: frozenset[str] = frozenset()
    # The pass-through field holding the record's own time (``data.timestamp_column``): checked on
    # arrival as ingest will read it when the record comes back as labelled feedback.
    time_field: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def known(self) -> frozenset[str]:
        """Every field a record may carry: built once per loaded model, read for every record."""
        return frozenset(self.names) | self.passthrough

    def to_dict(self) -> list[dict[str, Any]]:
        return [{"name": f.name, "type": f.type, "required": f.required} for f in self.fields]

    def compatible_with(self, other: InputSchema) -> str | None:
        """Why a model with this schema would break clients of ``other`` (None when it would not)."""
        old = {f.name: f for f in other.fields}
        for f in self.fields:
            if f.name not in old and f.required:
                return f"new required field {f.name!r}"
            if f.name in old and old[f.name].kind != f.kind and {old[f.name].kind, f.kind} != _NUMERIC:
                return f"field {f.name!r} changes type from {old[f.name].type} to {f.type}"
        return None


def schema_from_signature(
    columns: Iterable[Mapping[str, Any]], passthrough: Iterable[str] = (), time_field: str | None = None
) -> InputSchema:
    """Build from ``signature.inputs.to_dict()`` (a column-based signature); else IncompatibleSchemaError."""
    fields = []
    for col in columns:
        name, type_ = col.get("name"), col.get("type")
        if not name or type_ not in _KINDS:
            raise IncompatibleSchemaError(
                f"unsupported signature column {col!r}: needs a name and a scalar type"
            )
        fields.append(Field(str(name), str(type_), _KINDS[str(type_)], bool(col.get("required", True))))
    if not fields:
        raise IncompatibleSchemaError("the model signature has no input columns")
    names = {f.name for f in fields}
    kept = frozenset(p for p in passthrough if p and p not in names)
    return InputSchema(tuple(fields), kept, time_field if time_field in kept else None)


def _fits_float(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _type_ok(kind: Kind, value: Any) -> bool:
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return math.isfinite(value) if isinstance(value, float) else True  # range: _value_problem
    if kind == "integer":
        if isinstance(value, float):
            return value.is_integer() and INT64_MIN <= value <= INT64_MAX
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)  # string, and datetime as ISO text


def _text_problem(value: str, limit: int) -> str | None:
    """Why a string cannot be taken (too long, NUL, not valid unicode), or None."""
    if len(value) > limit:
        return f"is {len(value)} characters long, at most {limit} are allowed"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid unicode (a lone surrogate)"
    return None


def _value_problem(kind: Kind, value: Any) -> tuple[str, str] | None:
    """(problem code, message tail) for a value of the right JSON type that is still unusable."""
    if kind == "integer" and isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return "out_of_range", f"is outside the 64-bit integer range ({INT64_MIN} … {INT64_MAX})"
    if kind == "number" and isinstance(value, int) and not _fits_float(value):
        return "out_of_range", "is too large for a 64-bit float"
    if isinstance(value, str) and (why := _text_problem(value, MAX_STRING_CHARS)):
        return "invalid_text", why
    return None


def _passthrough_problem(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _text_problem(value, MAX_PASSTHROUGH_CHARS)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a string or a finite number, got {_json_type(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a string or a finite number, got a non-finite number"
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return "is outside the 64-bit integer range"
    return None


# ISO 8601 calendar dates (2026-01-02, 2026-01-02T03:04:05Z): what pandas and fromisoformat both read;
# a week date (2026-W01-1) is fromisoformat's alone.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _time_problem(value: Any) -> str | None:
    """Why ``value`` is not the record's time as the README promises it (ISO 8601 text or epoch
    seconds), or None.

    Logged, a time no one can read is set aside when its label comes back; refused here, the client
    learns it at once. No date parser runs per record on the event loop (dateutil costs ~0.3 ms a
    value): other text is refused, however ingest might have guessed it.
    """
    if (why := _passthrough_problem(value)) or value is None:
        return why
    if isinstance(value, int | float):
        if EPOCH_MIN < value < EPOCH_MAX:
            return None
        return "is a time in epoch seconds outside the years 1677-2262"
    if _ISO_DATE.match(value):
        try:
            if 1678 <= datetime.fromisoformat(value).year <= 2261:  # inside pandas' range, any offset
                return None
        except ValueError:
            pass
    return f"must be a time: ISO 8601 text (2026-01-02T03:04:05Z) or epoch seconds, got {shown_json(value)}"


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, as an error message shows it (``null``, never ``NoneType``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else "non-finite number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def _error(index: int, many: bool, field: str, problem: str, message: str, **extra: Any) -> dict[str, Any]:
    where = f"record {index}: " if many else ""
    return {
        "record": index,
        "field": display_name(field),
        "problem": problem,
        "message": where + message,
        **extra,
    }


def check_record(
    schema: InputSchema,
    record: Any,
    index: int,
    many: bool,
    extra: ExtraFields,
    drop: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the record as logged and scored, []) or (None, errors).

    ``drop`` names personal fields the model never saw (``data.pii.drop``, removed at ingest): they are
    removed from the record, not refused as unknown, whatever ``extra`` says.
    """
    if not isinstance(record, dict):
        return None, [
            _error(
                index,
                many,
                "(record)",
                "not_an_object",
                f"a record must be a JSON object, got {_json_type(record)}",
            )
        ]
    if drop and not drop.isdisjoint(record):
        record = {k: v for k, v in record.items() if k not in drop}
    errors: list[dict[str, Any]] = []
    huge: list[str] = []  # whole numbers for double fields that no int64 holds
    for f in schema.fields:
        if f.name not in record:
            if f.required:
                errors.append(_error(index, many, f.name, "missing", f"missing field {f.name!r} ({f.type})"))
            continue
        value = record[f.name]
        if value is None:
            continue
        if not _type_ok(f.kind, value):
            errors.append(
                _error(
                    index,
                    many,
                    f.name,
                    "wrong_type",
                    f"field {f.name!r} must be {f.type}, got {_json_type(value)}",
                    expected=f.type,
                    got=_json_type(value),
                )
            )
        elif bad := _value_problem(f.kind, value):
            errors.append(_error(index, many, f.name, bad[0], f"field {f.name!r} {bad[1]}"))
        elif f.kind == "number" and type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            huge.append(f.name)
    for name in schema.passthrough:
        check = _time_problem if name == schema.time_field else _passthrough_problem
        if name in record and (why := check(record[name])):
            errors.append(_error(index, many, name, "invalid_passthrough", f"field {name!r} {why}"))
    known = schema.known
    unknown = [k for k in record if k not in known]
    if unknown and extra == "refuse":
        errors.extend(
            _error(
                index,
                many,
                k,
                "unknown_field",
                f"unknown field {display_name(k)!r} (not in the model schema)",
            )
            for k in unknown[:50]
        )
    if errors:
        return None, errors
    if unknown:
        record = {k: v for k, v in record.items() if k in known}
    if huge:
        # Logged as the float the model sees: 2**80 as an integer would reach the log, the feedback
        # batch and monitoring as a number no int64 holds.
        record = {**record, **{name: float(record[name]) for name in huge}}
    return record, []


def validate_records(
    schema: InputSchema,
    records: Sequence[Any],
    *,
    many: bool,
    extra: ExtraFields,
    drop: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Every record checked; InvalidRecordError (422) naming the first bad field, all errors in details.

    ``drop``: fields removed from each record before the check (see ``check_record``).
    """
    clean: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        ok, errs = check_record(schema, rec, i, many, extra, drop)
        if ok is not None:
            clean.append(ok)
        errors.extend(errs)
        if len(errors) >= 50:  # enough to fix a client; a huge bad batch must not build a huge answer
            break
    if errors:
        raise InvalidRecordError(
            errors[0]["message"], details={"field": errors[0]["field"], "errors": errors[:50]}
        )
    return clean


def to_frame(schema: InputSchema, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The model's input frame: signature columns in order, numbers as float (None → NaN)."""
    data: dict[str, Any] = {}
    for f in schema.fields:
        values = [r.get(f.name) for r in records]
        if _DTYPES[f.kind] == "float64":
            data[f.name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
        else:
            data[f.name] = pd.Series(values, dtype="object")
    return pd.DataFrame(data)
