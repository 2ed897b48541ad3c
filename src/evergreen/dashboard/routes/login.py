"""GET/POST /login (a token pasted once becomes the session), POST /logout."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from evergreen.dashboard.context import Visit, VisitDep, checked_form, is_local
from evergreen.dashboard.render import page, save_session
from evergreen.dashboard.services import Identity
from evergreen.dashboard.throttle import LoginThrottle
from evergreen.errors import RateLimitedError
from evergreen.logs import get_logger

router = APIRouter()
log = get_logger(__name__)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an open redirect would let a link send a fresh login elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, visit: VisitDep, next: str | None = None) -> Response:
    if visit.who is not None:
        return RedirectResponse(_safe_next(next), 303)
    return page(
        request,
        visit,
        "login.html",
        title="Log in",
        next=_safe_next(next),
        enabled=visit.services.auth.enabled() or is_local(visit.services, request),
        tokens_env=visit.services.project.settings.auth.tokens_env,
    )


def _refused(request: Request, visit: Visit, target: str, status: int, reason: str) -> Response:
    return page(
        request,
        visit,
        "login.html",
        status=status,
        title="Log in",
        next=target,
        enabled=True,
        error=reason,
        tokens_env=visit.services.project.settings.auth.tokens_env,
    )


@router.post("/login")
async def login(request: Request, visit: VisitDep) -> Response:
    form = await checked_form(request, visit)
    target = _safe_next(form.get("next"))
    throttle: LoginThrottle = request.app.state.dashboard_login_throttle
    client = request.client.host if request.client else "unknown"
    wait = throttle.blocked_for(client)
    if wait is not None:  # before the token is looked at: a held-back guess tests nothing
        log.info("dashboard_login_held_back", retry_after_seconds=wait)
        error = RateLimitedError(
            f"too many failed log-ins from this address or in all; try again in {wait} s",
            details={"retry_after_seconds": wait},
        )
        response = _refused(request, visit, target, error.http_status, error.message)
        response.headers["Retry-After"] = str(wait)  # RFC 6585
        return response
    token = form.get("token", "").strip()
    auth = visit.services.auth
    who: Identity | None = auth.lookup(token) if token and auth.enabled() else None
    if who is None or not auth.has_role(who.role, "viewer"):
        throttle.failed(client)
        log.info("dashboard_login_refused")  # never the token, nor its name
        reason = "unknown token" if who is None else f"{who.name} is {who.role}; the dashboard needs viewer"
        return _refused(request, visit, target, 401, reason)
    response = RedirectResponse(target, 303)
    save_session(request, visit.codec, visit.codec.login(who), response)
    log.info("dashboard_login", name=who.name, role=who.role)
    return response


@router.post("/logout")
async def logout(request: Request, visit: VisitDep) -> Response:
    await checked_form(request, visit)
    response = RedirectResponse("/login", 303)
    save_session(request, visit.codec, visit.codec.logout(), response)
    return response
