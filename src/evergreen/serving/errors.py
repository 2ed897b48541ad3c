"""Every error the API returns has one shape: ``{"error": {"code", "message", "details"}}``.

One handler maps ``EvergreenError.http_status``; FastAPI's own validation errors become 422 naming the
field; Starlette's HTTP errors (404 route, 405 method) keep their status in the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evergreen.errors import EvergreenError
from evergreen.logs import get_logger

log = get_logger(__name__)


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=dict(headers) if headers else None,
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "records", 0, "tenure") → "records.0.tenure"; the "body"/"query" prefix says nothing useful
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "(body)"


async def _evergreen_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EvergreenError)
    if exc.http_status >= 500:
        log.error("request_failed", code=exc.code, error=exc.message)
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "(body)", "message": "invalid request"}
    if first.get("type") == "json_invalid":
        return error_response(
            400, "malformed_json", f"request body is not valid JSON: {first['message']}", {"errors": errors}
        )
    return error_response(
        422,
        "invalid_request",
        f"{first['field']}: {first['message']}",
        {"field": first["field"], "errors": errors},
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), None, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(EvergreenError, _evergreen_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
