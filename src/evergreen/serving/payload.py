"""Request bodies of /predict and /feedback: strict JSON parsing and the ``record`` / ``records`` shapes.

Pure. The parser is :func:`evergreen.jsontext.parse_json` (re-exported here): it refuses what
``json.loads`` would let through into the service (a repeated key, ``NaN``/``Infinity``, nesting
deeper than the recursion limit, integers of thousands of digits, bytes that are not UTF-8), each a
4xx naming the problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from evergreen.errors import InvalidRequestError, MalformedJSONError, TooManyRecordsError
from evergreen.jsontext import display_name, parse_json

__all__ = [
    "MalformedJSONError",
    "StrictJSONRoute",
    "display_name",
    "json_answer",
    "parse_json",
    "predict_records",
    "refuse_unexpected",
]


def _declares_json(request: Request) -> bool:
    # As FastAPI decides to parse a body as JSON: no content type, application/json or a +json type.
    value = request.headers.get("content-type")
    if not value:
        return True
    message = Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class _ParsedJSONRequest(Request):
    """A request whose JSON body was already read by :func:`parse_json`."""

    parsed: Any = None

    async def json(self) -> Any:
        return self.parsed


class StrictJSONRoute(APIRoute):
    """A route whose JSON body model is read by :func:`parse_json`, the parser of ``/predict``.

    FastAPI reads a body with ``json.loads``: a repeated key silently keeps its last value and
    ``NaN`` / ``Infinity`` pass as numbers. With this route class the control API refuses them with
    the codes ``/predict`` uses (``duplicate_key``, ``malformed_json``, ``json_too_deep``), rendered
    by the app's one error handler. Routes without a body model (``/predict`` parses its own) are
    left as they are.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict(request: Request) -> Response:
            if not _declares_json(request):
                return await handler(request)
            parsed = _ParsedJSONRequest(request.scope, request.receive)
            body = await parsed.body()
            if body:  # an empty body is FastAPI's to judge (a missing required body, or none needed)
                parsed.parsed = parse_json(body)
            return await handler(parsed)

        return strict


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def json_answer(body: dict[str, Any]) -> JSONResponse:
    """The response; a non-finite number a model produced becomes null instead of a 500."""
    try:
        return JSONResponse(body)
    except ValueError:
        return JSONResponse(_finite(body))


def refuse_unexpected(payload: dict[str, Any], expected: tuple[str, ...], where: str = "") -> None:
    """InvalidRequestError (422) naming the first key of ``payload`` not in ``expected``.

    A key no form of the body takes is refused rather than ignored: a typo (``labls``) or a second
    form beside the first (``records`` beside ``feedback``) would otherwise be dropped with a 2xx.
    """
    for key in payload:
        if key not in expected:
            name = display_name(key)
            raise InvalidRequestError(
                f"{where}unexpected field {name!r}: expected only {' and '.join(map(repr, expected))}",
                details={"field": name, "expected": list(expected)},
            )


def predict_records(payload: Any, max_records: int) -> tuple[list[Any], bool]:
    """(records, many): ``{"record": {...}}`` is one record, ``{"records": [...]}`` many."""
    if not isinstance(payload, dict):
        raise InvalidRequestError(
            'expected a JSON object with "record" or "records"',
            details={"field": "(body)"},
        )
    if "record" in payload and "records" in payload:
        raise InvalidRequestError(
            'send either "record" or "records", not both',
            details={"field": "records"},
        )
    if "record" in payload:
        refuse_unexpected(payload, ("record",))
        return [payload["record"]], False
    if "records" in payload:
        refuse_unexpected(payload, ("records",))
        records = payload["records"]
        if not isinstance(records, list) or not records:
            raise InvalidRequestError(
                '"records" must be a non-empty list of objects',
                details={"field": "records"},
            )
        if len(records) > max_records:
            raise TooManyRecordsError(
                f'"records" has {len(records)} records, at most {max_records} are allowed '
                "(serving.max_batch_records)",
                details={"field": "records", "max": max_records},
            )
        return records, True
    unexpected = [display_name(k) for k in payload]
    if unexpected:  # no "record" nor "records": a misspelt one, say ("recrod")
        raise InvalidRequestError(
            f'unexpected field {unexpected[0]!r}: send "record" (one record) or "records" (a list)',
            details={"field": unexpected[0], "expected": ["record", "records"]},
        )
    raise InvalidRequestError(
        'missing field "record" (one record) or "records" (a list)',
        details={"field": "record"},
    )
