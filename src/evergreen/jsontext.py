"""Strict JSON text in: the one reading of a JSON body, and of a number typed as text.

Pure. The parser refuses what ``json.loads`` would let through into the service: a repeated key (which
of the two values would the model see?), ``NaN``/``Infinity`` (not JSON, and refused by PostgreSQL),
nesting deeper than the interpreter's recursion limit, integers of thousands of digits and bytes that
are not UTF-8. Each is a 4xx naming the problem, never a 500.

It sits at the bottom of the layers so that the API (``serving.payload``) and the dashboard's predict
form read numbers by one rule: a form's full-width digits (U+FF11...) or ``1_000``, which Python's
``float`` takes, is refused as the JSON API refuses it.
"""

from __future__ import annotations

import json
from typing import Any

from evergreen.errors import DuplicateKeyError, JSONTooDeepError, MalformedJSONError, one_line

__all__ = ["display_name", "parse_json", "parse_number"]

_MAX_NAME_SHOWN = 80


def display_name(name: object) -> str:
    """A field name safe to put in an error message: printable, valid UTF-8, bounded length."""
    text = str(name)
    shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in shown)
    return shown if len(shown) <= _MAX_NAME_SHOWN else shown[:_MAX_NAME_SHOWN] + "…"


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(
                    f"request body repeats the key {display_name(key)!r} in one object",
                    details={"field": display_name(key)},
                )
            seen.add(key)
    return out


def _constant(name: str) -> Any:
    raise MalformedJSONError(
        f"request body holds {name}, which is not JSON: send a finite number or null",
        details={"value": name},
    )


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise MalformedJSONError("request body is empty: send a JSON object")
    try:
        return json.loads(body, object_pairs_hook=_pairs, parse_constant=_constant)
    except RecursionError:
        raise JSONTooDeepError(
            "request body is nested too deeply: records are flat objects of field → value"
        ) from None
    except UnicodeDecodeError as exc:  # before ValueError, its base: a latin-1 body, say
        # The codec's own words ("'utf-8' codec can't decode byte 0xe9…") say nothing to a client.
        raise MalformedJSONError(
            f"request body is not UTF-8 (byte {exc.start}): JSON is sent as UTF-8 (RFC 8259)",
            details={"field": "(body)"},
        ) from None
    except ValueError as exc:
        # Also integers over Python's digit limit ("Exceeds the limit (4300 digits)…").
        raise MalformedJSONError(f"request body is not valid JSON: {one_line(exc)[:300]}") from None


def parse_number(text: str) -> int | float | None:
    """``text`` as the JSON API reads a number (an ``int`` or a ``float``), or None when the API would
    not read it as one: only JSON's number syntax (ASCII digits, no ``_``, ``+``, leading ``.`` or
    ``0``), never ``NaN``/``Infinity``, ``true`` or a quoted string. An exponent past a float's range
    (``1e400``) reads as an infinity, as the API's parser reads it: the caller refuses it, as the
    API's record check does (the parser's job is the syntax)."""
    try:
        value = parse_json(text.encode("utf-8", "surrogatepass"))
    except MalformedJSONError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
