"""The Settings page: each run-time threshold with the file's value beside the override (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evergreen.errors import BadInputError
from evergreen.overrides import check_key


@dataclass(frozen=True)
class ThresholdRow:
    key: str
    file_value: str  # JSON text, as typed in the form
    override: str | None
    in_force: str
    actor: str
    updated_at: str
    ignored: str = ""  # why the override is not in force (evergreen.yaml changed since)


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def threshold_rows(
    keys: tuple[str, ...],
    file_values: Mapping[str, Any],
    in_force: Mapping[str, Any],
    overrides: Mapping[str, Mapping[str, Any]],
) -> list[ThresholdRow]:
    rows = []
    for key in keys:
        o = overrides.get(key)
        rows.append(
            ThresholdRow(
                key=key,
                file_value=as_json(file_values.get(key)),
                override=None if o is None else as_json(o.get("value")),
                in_force=as_json(in_force.get(key)),
                actor="" if o is None else str(o.get("actor") or ""),
                updated_at="" if o is None else str(o.get("updated_at") or ""),
                ignored="" if o is None else str(o.get("ignored") or ""),
            )
        )
    return rows


def parse_changes(
    form: Mapping[str, str], keys: tuple[str, ...], current: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The edits: ``value:<key>`` fields whose JSON differs from the value in force; ``reset:<key>`` boxes.

    A field left as shown is no change; BadInputError (naming the key) for text that is not JSON, or
    JSON no threshold holds: NaN or an infinity (``1e400`` too), an integer over Python's 4300-digit
    limit, nesting too deep to decode (the same values the control API's body parser refuses), and for
    a field of a key that is not in ``keys`` (a form of an older page, or one made by hand: ignoring
    it answered "nothing changed" to a change that was asked for).
    """
    for name in form:
        kind, colon, key = name.partition(":")
        if colon and kind in ("value", "reset"):
            check_key(key, keys)
    values: dict[str, Any] = {}
    reset = [k for k in keys if form.get(f"reset:{k}") == "yes"]
    for key in keys:
        text = form.get(f"value:{key}")
        if text is None or key in reset or text.strip() == current.get(key, "").strip():
            continue
        try:
            parsed = json.loads(text)
            json.dumps(parsed, allow_nan=False)  # ValueError for a NaN or infinity anywhere inside
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            raise BadInputError(
                f"thresholds key {key}: {text[:60]!r} is not a JSON value (numbers as 0.1, true/false, null, "
                '{"accuracy": 0.8})',
                details={"key": key},
            ) from exc
        if key not in current or not same_threshold(parsed, json.loads(current[key])):
            values[key] = parsed
    return values, reset


def same_threshold(a: Any, b: Any) -> bool:
    """Equal as threshold values: ``1e3`` is ``1000`` and ``0.50`` is ``0.5`` (a field retyped so
    was saved and audited as a change of nothing), but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_threshold(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_threshold(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
