"""Who is asking, and may they: the dashboard's request dependencies.

A page depends on :data:`Viewer` (or ``Operator``/``Admin``): the person from the session cookie,
checked against the API's tokens and role order. No session sends a page to ``/login``; a role too
low for a page or an action gets 403, and a POST also needs the session's CSRF token and a
same-origin browser (:func:`posted_form`). ``serve --insecure-local`` without tokens lets loopback
clients in as ``local`` (admin), as the API does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator

from evergreen.dashboard.queries import MAX_PAGE
from evergreen.dashboard.services import DashboardServices, Identity
from evergreen.dashboard.session import CSRF_FIELD, CSRF_HEADER, Session, SessionCodec, same_origin
from evergreen.errors import shown

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
LOCAL = Identity("local", "admin")
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 2000  # the predict form has one field per column of the champion's signature

# What the pages take in their URLs: ``?page=`` of a list, a filter word, a run id.
PageNo = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]
Word = Annotated[str | None, Query(max_length=50, pattern=r"^[A-Za-z0-9_.:-]*$")]
RunId = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


# An id filter: an empty value is no filter.
IdFilter = Annotated[int | None, Query(ge=1, le=2**31 - 1), BeforeValidator(_blank_is_none)]
# A date filter: an empty date input is sent as ``since=`` (and the pager's links carry every filter,
# empty ones too); that is no date, not the invalid date '' (a 422 for pressing Filter, or Next).
Day = Annotated[date | None, Query(), BeforeValidator(_blank_is_none)]


class DashboardError(Exception):
    """Rendered as an HTML page (or a redirect) by the dashboard's own handler."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LoginRequired(DashboardError):
    status = 303


class Forbidden(DashboardError):
    status = 403


class PageNotFound(DashboardError):
    status = 404


class BadAddress(DashboardError):
    """A page address (a path or query value) the page cannot take: ``?page=0``, an alert id of 20 digits."""

    status = 422


class DashboardDisabled(DashboardError):
    status = 403


def one_of(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    """A list page's filter: ``None`` for none (absent, or the form's empty "any"), the value when the
    list holds it, else :class:`BadAddress` naming the field, the value and what it may be (a typo,
    ``?status=faild``, showed "No run matches." and read as "nothing failed")."""
    if not value:
        return None
    if value not in allowed:
        raise BadAddress(f"{name} {shown(value)}: not one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Visit:
    """One request's view of the dashboard: the services, the session, the person and their CSRF token."""

    services: DashboardServices
    codec: SessionCodec
    session: Session
    who: Identity | None
    csrf: str

    @property
    def actor(self) -> str:
        """The audit trail's name for this person (only after a role check let them in)."""
        if self.who is None:
            raise LoginRequired("/")
        return self.who.actor

    def can(self, role: str) -> bool:
        return self.who is not None and self.services.auth.has_role(self.who.role, role)


def get_services(request: Request) -> DashboardServices:
    services: DashboardServices = request.app.state.dashboard
    return services


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.dashboard_sessions
    return codec


def is_local(services: DashboardServices, request: Request) -> bool:
    host = request.client.host if request.client else None
    return services.insecure_local and not services.auth.enabled() and host in LOOPBACK


def get_visit(request: Request) -> Visit:
    services, codec = get_services(request), _codec(request)
    session = codec.load(request)
    who = session.who
    if is_local(services, request):
        who = LOCAL
    elif who is not None and not (services.auth.enabled() and services.auth.holds(who)):
        who = None  # the token was removed (or its role changed) since login
    visit = Visit(services, codec, session, who, codec.csrf_token(session))
    request.state.visit = visit  # the page renderer writes the cookie of a new session
    return visit


VisitDep = Annotated[Visit, Depends(get_visit)]


def require(role: str) -> Callable[..., Visit]:
    def dependency(request: Request, visit: VisitDep) -> Visit:
        if visit.who is None:
            if not visit.services.auth.enabled() and not is_local(visit.services, request):
                raise DashboardDisabled(
                    "the dashboard is disabled: no tokens are configured "
                    f"(${visit.services.project.settings.auth.tokens_env}); set them, or start "
                    "`evergreen serve --insecure-local` and browse from this machine"
                )
            # The whole address, query included: a message's link (/alerts?alert=7) must lead there
            # after logging in, not to the list.
            query = request.url.query
            raise LoginRequired(request.url.path + (f"?{query}" if query else ""))
        if not visit.can(role):
            raise Forbidden(f"{visit.who.name} is {visit.who.role}; this needs {role} or higher")
        return visit

    return dependency


Viewer = Annotated[Visit, Depends(require("viewer"))]
Operator = Annotated[Visit, Depends(require("operator"))]
Admin = Annotated[Visit, Depends(require("admin"))]


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form, one value per field (the last one wins); bounded in size."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise DashboardError("form too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DashboardError(f"unreadable form: {exc}") from exc
    return {k: v[-1] for k, v in parsed.items()}


async def checked_form(request: Request, visit: Visit) -> dict[str, str]:
    """The POSTed form, if it comes from this site with this session's CSRF token; else 403."""
    if not same_origin(request):
        raise Forbidden("refused: the form was sent from another site")
    form = await read_form(request)
    presented = form.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER)
    if not visit.codec.csrf_ok(visit.session, presented):
        raise Forbidden("refused: the form's CSRF token is missing or not this session's; reload the page")
    return form


def posted_form(role: str) -> Callable[..., object]:
    """A dependency for an action: role checked first, then origin and CSRF token; the form's fields."""
    needed = require(role)

    # A default, not Annotated: the annotation would be a string naming this closure's local.
    async def dependency(request: Request, visit: Visit = Depends(needed)) -> dict[str, str]:
        return await checked_form(request, visit)

    return dependency


def required(form: dict[str, str], name: str, label: str | None = None, max_len: int = 2000) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise DashboardError(f"{label or name} is required")
    if len(value) > max_len or "\x00" in value:
        raise DashboardError(f"{label or name} is too long or holds a NUL character")
    return value
