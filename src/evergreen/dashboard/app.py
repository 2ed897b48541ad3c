"""``mount(app, services)``: the dashboard's pages, static files and HTML error pages on an app.

``serving.create_app`` calls it, so the dashboard and the API are one app, one port, one process.
The dashboard's own errors (:class:`~evergreen.dashboard.context.DashboardError`) are rendered as
HTML pages here, and so is a dashboard route's invalid path or query value (FastAPI's validation
error, which the API renders as JSON: a person following a stale link got a JSON body), and so is a
routing error (an unknown path, ``GET /logout``) asked for by a browser outside the API (a person
typing ``/alert`` got the API's JSON 404); every other error keeps the API's JSON renderer.
"""

from __future__ import annotations

import inspect
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from evergreen.dashboard.context import (
    BadAddress,
    DashboardError,
    LoginRequired,
    Visit,
    get_visit,
)
from evergreen.dashboard.render import make_environment, page
from evergreen.dashboard.routes import ROUTERS
from evergreen.dashboard.services import DashboardServices
from evergreen.dashboard.session import SessionCodec
from evergreen.dashboard.throttle import LoginThrottle
from evergreen.errors import EvergreenError, one_line, shown
from evergreen.redact import Redactor

STATIC_PREFIX = "/static"


async def _dashboard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DashboardError)
    if isinstance(exc, LoginRequired) and request.method == "GET":
        target = exc.message if exc.message.startswith("/") and not exc.message.startswith("//") else "/"
        return RedirectResponse(f"/login?{urlencode({'next': target}, safe='/')}", status_code=303)
    visit = getattr(request.state, "visit", None)
    if not isinstance(visit, Visit):
        visit = get_visit(request)
    status = 403 if isinstance(exc, LoginRequired) else exc.status
    message = "log in first" if isinstance(exc, LoginRequired) else exc.message
    return page(
        request,
        visit,
        "error.html",
        status=status,
        title={403: "Refused", 404: "Not found", 503: "Unavailable"}.get(status, "Error"),
        message=message,
        status_code=status,
    )


def _address_problem(request: Request, exc: RequestValidationError) -> str:
    """The first invalid value of the address, for a person: ``page '0': Input should be ...``;
    through the app's redactor, as every API error message."""
    errors: list[Any] = list(exc.errors())
    if not errors:
        return "this address is not valid"
    first = errors[0]
    name = str(first.get("loc", ("value",))[-1])
    message = f"{name} {shown(str(first.get('input', '')))}: {first.get('msg', 'not valid')}"
    redact = getattr(request.app.state, "redact", None)
    return redact(message) if isinstance(redact, Redactor) else message


def _dashboard_endpoints() -> frozenset[Any]:
    return frozenset(r.endpoint for router in ROUTERS for r in router.routes if isinstance(r, APIRoute))


def _on_dashboard_route(request: Request, endpoints: frozenset[Any]) -> bool:
    return getattr(request.scope.get("route"), "endpoint", None) in endpoints


def _route_errors_as_pages(app: FastAPI) -> None:
    """The dashboard's routes answer an invalid path or query value with an HTML page (422); the
    handler installed before (the API's JSON renderer) keeps every other route."""
    endpoints = _dashboard_endpoints()
    api_handler = app.exception_handlers.get(RequestValidationError)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if api_handler is None or _on_dashboard_route(request, endpoints):
            return await _dashboard_error(request, BadAddress(_address_problem(request, exc)))
        response = api_handler(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(RequestValidationError, handler)


def wants_page(request: Request, api_prefix: str) -> bool:
    """A browser's request outside the API: it is answered with a page, an API client with JSON.

    A browser's navigation sends ``Accept: text/html``; curl, httpx and the CLI send ``*/*`` or JSON.
    A path under the API prefix is the API's, whatever the client accepts (a script may send any
    header, and its error body must keep the API's shape)."""
    path = request.url.path
    if path == api_prefix or path.startswith(api_prefix + "/"):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


class _StatusError(DashboardError):
    """An error of the app (Starlette's routing error, an evergreen error), as the dashboard's page
    of the same status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_ROUTING_MESSAGES = {
    404: "There is no page at this address.",
    405: "This address does not answer that kind of request (a link or a reload cannot repeat an action).",
}


def _http_errors_as_pages(app: FastAPI, api_prefix: str) -> None:
    """Starlette's routing errors (404 unknown path, 405 method) answered with a page in the
    dashboard's frame when :func:`wants_page`; the handler installed before (the API's JSON renderer)
    answers everyone else. The status and headers (405's ``Allow``) are kept either way."""
    api_handler = app.exception_handlers.get(StarletteHTTPException)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if api_handler is not None and not wants_page(request, api_prefix):
            response = api_handler(request, exc)
            return await response if inspect.isawaitable(response) else response
        message = _ROUTING_MESSAGES.get(exc.status_code, f"HTTP {exc.status_code}")
        answer = await _dashboard_error(request, _StatusError(message, exc.status_code))
        for name, value in (exc.headers or {}).items():
            answer.headers.setdefault(name, value)
        return answer

    app.add_exception_handler(StarletteHTTPException, handler)


def _evergreen_errors_as_pages(app: FastAPI, api_prefix: str) -> None:
    """An evergreen error out of a dashboard route (the database or MLflow unreachable while a page
    reads them: 503) answered to a browser with a page of its status in the dashboard's frame, its one
    line (redacted) as the notice; a person got the API's JSON body. The API's handler installed
    before still logs it (a 5xx) and answers an API client at the same address, and every other route."""
    endpoints = _dashboard_endpoints()
    api_handler = app.exception_handlers.get(EvergreenError)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EvergreenError)
        response = api_handler(request, exc) if api_handler is not None else None
        if inspect.isawaitable(response):
            response = await response
        if response is not None and not (
            wants_page(request, api_prefix) and _on_dashboard_route(request, endpoints)
        ):
            return response
        redact = getattr(request.app.state, "redact", None)
        message = one_line(exc)
        message = redact(message) if isinstance(redact, Redactor) else message
        return await _dashboard_error(request, _StatusError(message, exc.http_status))

    app.add_exception_handler(EvergreenError, handler)


def mount(app: FastAPI, services: DashboardServices, *, session_max_age: int, api_prefix: str) -> None:
    app.state.dashboard = services
    app.state.dashboard_sessions = SessionCodec(services.session_secret, session_max_age)
    app.state.dashboard_templates = make_environment()
    app.state.dashboard_login_throttle = LoginThrottle()  # failed log-ins, in this process's memory
    app.add_exception_handler(DashboardError, _dashboard_error)
    _route_errors_as_pages(app)
    _http_errors_as_pages(app, api_prefix)
    _evergreen_errors_as_pages(app, api_prefix)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    static = files("evergreen.dashboard").joinpath("static")
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(static)), name="dashboard-static")
