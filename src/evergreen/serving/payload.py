"""Request bodies of /predict: JSON parsing and the ``record`` / ``records`` shapes (pure)."""

from __future__ import annotations

import json
from typing import Any

from evergreen.errors import BadInputError


class MalformedJSONError(BadInputError):
    code = "malformed_json"
    http_status = 400


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise MalformedJSONError("request body is empty: send a JSON object")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJSONError(f"request body is not valid JSON: {exc}".splitlines()[0]) from None


def predict_records(payload: Any, max_records: int) -> tuple[list[Any], bool]:
    """(records, many): ``{"record": {...}}`` is one record, ``{"records": [...]}`` many."""
    if not isinstance(payload, dict):
        raise BadInputError(
            'expected a JSON object with "record" or "records"',
            code="invalid_request",
            details={"field": "(body)"},
        )
    if "record" in payload and "records" in payload:
        raise BadInputError(
            'send either "record" or "records", not both',
            code="invalid_request",
            details={"field": "records"},
        )
    if "record" in payload:
        return [payload["record"]], False
    if "records" in payload:
        records = payload["records"]
        if not isinstance(records, list) or not records:
            raise BadInputError(
                '"records" must be a non-empty list of objects',
                code="invalid_request",
                details={"field": "records"},
            )
        if len(records) > max_records:
            raise BadInputError(
                f'"records" has {len(records)} records, at most {max_records} are allowed '
                "(serving.max_batch_records)",
                code="too_many_records",
                details={"field": "records", "max": max_records},
            )
        return records, True
    raise BadInputError(
        'missing field "record" (one record) or "records" (a list)',
        code="invalid_request",
        details={"field": "record"},
    )
