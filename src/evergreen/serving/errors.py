"""The API's one error renderer: every error is ``{"error": {"code", "message", "details"}}``.

``install_error_handlers`` is called by the app factory and covers every route, ``/predict`` and the
control API alike. An :class:`~evergreen.errors.EvergreenError` keeps its ``http_status``; FastAPI's
validation errors become ``invalid_request`` (422) naming the field, or ``malformed_json`` (400) when
the body is not JSON at all, the same code ``/predict`` raises for it; Starlette's HTTP errors (404
route, 405 method) keep their status in the same shape; a client that closes the connection before its
whole body arrived (Starlette's ``ClientDisconnect``) is the client's error, ``incomplete_body`` (400).
Every message and detail passes the project's redactor (``app.state.redact``) on its way out: no
secret in a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from evergreen.errors import (
    HTTP_ERROR,
    EvergreenError,
    IncompleteBodyError,
    InvalidRequestError,
    MalformedJSONError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
)
from evergreen.logs import get_logger
from evergreen.redact import Redactor
from evergreen.serving.payload import display_name

log = get_logger(__name__)


_URL_PASSWORDS = Redactor()  # for a response made outside a request (no app state to read)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
    redact: Redactor = _URL_PASSWORDS,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": redact(message), "details": redact.value(details)}},
        status_code=status,
        headers=dict(headers) if headers else None,
    )


def render(
    exc: EvergreenError, headers: Mapping[str, str] | None = None, redact: Redactor = _URL_PASSWORDS
) -> JSONResponse:
    if exc.http_status == 401:  # RFC 9110: a 401 says which scheme would be accepted
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    if isinstance(exc, RateLimitedError):  # RFC 6585: a 429 says when to come back
        headers = {"Retry-After": str(exc.details["retry_after_seconds"]), **(headers or {})}
    return error_response(exc.http_status, exc.code, exc.message, exc.details, headers, redact)


def _redactor(request: Request) -> Redactor:
    redact = getattr(request.app.state, "redact", None)
    return redact if isinstance(redact, Redactor) else _URL_PASSWORDS


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "records", 0, "tenure") → "records.0.tenure"; the "body"/"query" prefix says nothing useful
    # Each part shown bounded: a 100 000-character key sent back whole, three times, made a 300 KB 422.
    parts = [display_name(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "(body)"


async def _evergreen_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EvergreenError)
    if exc.http_status >= 500:
        log.error("request_failed", code=exc.code, error=exc.message, path=request.url.path)
    return render(exc, redact=_redactor(request))


def validation_error(exc: RequestValidationError) -> EvergreenError:
    """FastAPI's validation error as the evergreen error it is (malformed JSON or a bad field)."""
    errors = [
        {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "(body)", "message": "invalid request"}
    if first.get("type") == "json_invalid":
        return MalformedJSONError(
            f"request body is not valid JSON: {first['message']}", details={"errors": errors}
        )
    return InvalidRequestError(
        f"{first['field']}: {first['message']}", details={"field": first["field"], "errors": errors}
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return render(validation_error(exc), redact=_redactor(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: NotFoundError.code, 405: MethodNotAllowedError.code}.get(exc.status_code, HTTP_ERROR)
    return error_response(exc.status_code, code, str(exc.detail), None, exc.headers, _redactor(request))


async def _client_disconnect(request: Request, exc: Exception) -> JSONResponse:
    # Nobody reads this answer (the client has gone); it is what the metrics and the log count.
    assert isinstance(exc, ClientDisconnect)
    error = IncompleteBodyError(
        "the client closed the connection before the whole request body arrived",
        details={"field": "(body)"},
    )
    return render(error, redact=_redactor(request))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug: the body keeps the API's error shape and says nothing of the cause (the server's log
    # has the traceback, written by Starlette after this response).
    return error_response(500, EvergreenError.code, "internal error (see the server log)")


def install_error_handlers(app: FastAPI, redact: Redactor | None = None) -> None:
    app.state.redact = redact or _URL_PASSWORDS
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(EvergreenError, _evergreen_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
