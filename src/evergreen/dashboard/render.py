"""Templates to responses: the Jinja2 environment, the navigation bar, an action and its redirect."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from evergreen.dashboard.context import Visit
from evergreen.dashboard.session import CSRF_FIELD, Session, SessionCodec
from evergreen.errors import ConflictError, EvergreenError


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    role: str  # the lowest role that sees it


NAV = (
    NavItem("/", "Overview", "viewer"),
    NavItem("/runs", "Runs", "viewer"),
    NavItem("/models", "Models", "viewer"),
    NavItem("/monitoring", "Monitoring", "viewer"),
    NavItem("/alerts", "Alerts", "viewer"),
    NavItem("/approvals", "Approvals", "viewer"),
    NavItem("/history", "History", "viewer"),
    NavItem("/settings", "Settings", "viewer"),
    NavItem("/predict/form", "Predict", "viewer"),
)


NOTICE_PARAMS = frozenset({"notice", "ok", "mac"})  # what done() adds to the address it returns to


def _age(iso: str | None, now: datetime | None = None) -> str:
    """'3d 4h ago'-style age of an ISO timestamp (empty for none)."""
    if not iso:
        return ""
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    secs = int(((now or datetime.now(UTC)) - then).total_seconds())
    if secs < 60:
        return f"{max(secs, 0)}s ago"
    mins, hours, days = secs // 60, secs // 3600, secs // 86400
    if days:
        return f"{days}d {hours % 24}h ago"
    return f"{hours}h {mins % 60}m ago" if hours else f"{mins}m ago"


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "\N{EN DASH}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _short_time(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ")


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("evergreen.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["age"] = _age
    env.filters["num"] = _num
    env.filters["when"] = _short_time
    env.globals["urlencode"] = urlencode
    return env


def page(
    request: Request, visit: Visit, template: str, *, status: int = 200, title: str = "", **values: Any
) -> Response:
    env: Environment = request.app.state.dashboard_templates
    nav = [n for n in NAV if visit.who is not None and visit.can(n.role)]
    q = request.query_params
    notice, notice_ok = q.get("notice", ""), q.get("ok") == "1"
    if not hmac.compare_digest(visit.codec.notice_mac(visit.session, notice, notice_ok), q.get("mac", "")):
        notice = ""  # not written by this session's action (see done)
    html = env.get_template(template).render(
        request=request,
        visit=visit,
        who=visit.who,
        nav=nav,
        path=request.url.path,
        title=title,
        project=visit.services.project.settings.project,
        csrf_input=Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{visit.csrf}">'),
        notice=notice[:500],
        notice_ok=notice_ok,
        **values,
    )
    response = HTMLResponse(html, status_code=status)
    if status >= 400 and request.method != "GET":
        # A boosted form's refusal is shown (base.html's htmx config) but its POST address must not
        # enter the history: reloading it would GET an action (405).
        response.headers["HX-Push-Url"] = "false"
    save_session(request, visit.codec, visit.session, response)
    return response


def save_session(request: Request, codec: SessionCodec, session: Session, response: Response) -> None:
    codec.save(response, session, secure=request.url.scheme == "https")


def done(visit: Visit, path: str, message: str, *, ok: bool = True) -> RedirectResponse:
    """After a POST: back to a page (303, so a reload does not repeat the action), with a notice that
    the page shows only to this session (its MAC)."""
    # The page the form came from may carry the notice of the action before: replaced, not appended
    # (appended, each action on a list grew the address by one more notice, without end).
    where, _, old = path.partition("?")
    kept = [(k, v) for k, v in parse_qsl(old, keep_blank_values=True) if k not in NOTICE_PARAMS]
    mac = visit.codec.notice_mac(visit.session, message, ok)
    query = urlencode([*kept, ("notice", message), ("ok", "1" if ok else "0"), ("mac", mac)])
    return RedirectResponse(f"{where}?{query}", 303)


def _message(result: Any) -> str:
    return str(result.message)


@dataclass(frozen=True)
class Already:
    """What an action's 409 means when the thing is already where the action would put it."""

    status: str  # the ``status`` a ConflictError's details name: "acknowledged", "promoted"
    message: str  # shown as done: "alert 7 already acknowledged"


def _already_done(exc: EvergreenError, already: Already | None) -> bool:
    details = exc.details
    return (
        already is not None
        and isinstance(exc, ConflictError)
        and isinstance(details, dict)
        and details.get("status") == already.status
    )


async def act(
    visit: Visit,
    back: str,
    action: Callable[[], Any],
    ok: Callable[[Any], str] = _message,
    *,
    already: Already | None = None,
) -> Response:
    """Run a control action off the event loop, then :func:`done`: back to ``back`` with ``ok(result)``
    (the result's ``message`` unless told), or with the control layer's refusal.

    The control layer refuses (409) an action on a thing already in the state it asks for, by design.
    From a page that is nearly always the second click of a double-click, or two people acting at
    once: with ``already``, that refusal is shown as done (``already.message``), not as a failure."""
    try:
        result = await run_in_threadpool(action)
    except EvergreenError as exc:
        if _already_done(exc, already):
            assert already is not None
            return done(visit, back, already.message)
        # Redacted: the message goes into the redirect's query string (proxy logs, history), and a
        # registry's refusal may quote an artifact address.
        return done(visit, back, visit.services.project.redactor(exc.message), ok=False)
    return done(visit, back, ok(result))
