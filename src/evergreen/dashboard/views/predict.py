"""The predict form: one typed input per signature column, and the typed record back from the form (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evergreen.dashboard.services import InputField
from evergreen.errors import BadInputError
from evergreen.jsontext import parse_number


@dataclass(frozen=True)
class FormInput:
    name: str
    label: str
    html_type: str  # number | text | select | datetime-local
    step: str | None
    options: tuple[str, ...]  # for a select
    required: bool
    type: str


def form_inputs(fields: Sequence[InputField]) -> list[FormInput]:
    out = []
    for f in fields:
        if f.type in ("double", "float"):
            out.append(FormInput(f.name, f.name, "number", "any", (), False, f.type))
        elif f.type in ("long", "integer"):
            out.append(FormInput(f.name, f.name, "number", "1", (), False, f.type))
        elif f.type == "boolean":
            out.append(FormInput(f.name, f.name, "select", None, ("", "true", "false"), False, f.type))
        elif f.type == "datetime":
            out.append(FormInput(f.name, f.name, "datetime-local", None, (), False, f.type))
        else:
            out.append(FormInput(f.name, f.name, "text", None, (), False, f.type))
    return out


def _number(name: str, text: str, integer: bool) -> float | int:
    # Read as the JSON API reads a number (one rule, jsontext): Python's float() also took U+FF11 U+FF12
    # (full-width digits), '1_000' and 'inf', which /predict refuses.
    value = parse_number(text)
    if value is None:
        raise BadInputError(
            f"{name}: {text[:40]!r} is not a number (digits 0-9, as in JSON: -12.5, 3e2)",
            details={"field": name},
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInputError(f"{name}: must be a finite number", details={"field": name})
    if integer:
        if value != int(value):
            raise BadInputError(f"{name}: {text[:40]!r} is not a whole number", details={"field": name})
        return int(value)
    return value


def record_from_form(fields: Sequence[InputField], form: Mapping[str, str]) -> dict[str, Any]:
    """The record ``/predict`` takes: each field typed by the signature; an empty input is null (imputed)."""
    record: dict[str, Any] = {}
    for f in fields:
        text = form.get(f"f:{f.name}", "").strip()
        if text == "":
            record[f.name] = None
        elif f.type in ("double", "float", "long", "integer"):
            record[f.name] = _number(f.name, text, f.type in ("long", "integer"))
        elif f.type == "boolean":
            if text not in ("true", "false"):  # the select's options; anything else is no answer
                message = f"{f.name}: {text[:40]!r} is not true or false"
                raise BadInputError(message, details={"field": f.name})
            record[f.name] = text == "true"
        else:
            record[f.name] = text
    return record


def label_from_form(text: str, classes: Sequence[Any] | None) -> Any:
    """A class of the model as it is (an integer class stays an integer), or a number for a regressor."""
    text = text.strip()
    if not text:
        raise BadInputError("label: give the true outcome", details={"field": "label"})
    if classes is None:
        return _number("label", text, integer=False)
    for c in classes:
        if str(c) == text:
            return c
    raise BadInputError(f"label: {text[:40]!r} is not a class of the model", details={"field": "label"})
