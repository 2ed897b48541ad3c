"""``mount(app, services)``: the dashboard's pages, static files and HTML error pages on an app.

``serving.create_app`` calls it, so the dashboard and the API are one app, one port, one process.
The dashboard's own errors (:class:`~evergreen.dashboard.context.DashboardError`) are rendered as
HTML pages here; every other error keeps the API's JSON renderer.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from evergreen.dashboard.context import DashboardError, LoginRequired, Visit, get_visit
from evergreen.dashboard.render import make_environment, page
from evergreen.dashboard.routes import ROUTERS
from evergreen.dashboard.services import DashboardServices
from evergreen.dashboard.session import SessionCodec

STATIC_PREFIX = "/static"


async def _dashboard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DashboardError)
    if isinstance(exc, LoginRequired) and request.method == "GET":
        target = exc.message if exc.message.startswith("/") and not exc.message.startswith("//") else "/"
        return RedirectResponse(f"/login?next={target}", status_code=303)
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
        title="Refused" if status == 403 else "Error",
        message=message,
        status_code=status,
    )


def mount(app: FastAPI, services: DashboardServices, *, session_max_age: int) -> None:
    app.state.dashboard = services
    app.state.dashboard_sessions = SessionCodec(services.session_secret, session_max_age)
    app.state.dashboard_templates = make_environment()
    app.add_exception_handler(DashboardError, _dashboard_error)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    static = files("evergreen.dashboard").joinpath("static")
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(static)), name="dashboard-static")
