"""What the routes depend on, as ``Annotated`` dependencies.

``ContextDep`` is the serving context the app factory built (``app.state.ctx``); ``ProjectDep`` is
the project the app serves (``app.state.project``, or the serving context's);
``Viewer``, ``Operator`` and ``Admin`` are the caller, authenticated by bearer token and allowed that
role or a higher one (:mod:`evergreen.serving.auth`). A route names what it needs in its signature::

    @router.post("/rollback")
    def rollback(project: ProjectDep, who: Operator, body: RollbackBody) -> ActionOut: ...

``data_caller("predict")`` is the caller of a data endpoint: None while ``auth.require_token_for``
does not name it, else a ``client`` token or higher. Every authenticated caller is counted against
``auth.rate_limit_per_minute``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request

from evergreen.config import AuthConfig
from evergreen.errors import NotConfiguredError
from evergreen.project import Project
from evergreen.serving.auth import Principal, RateLimiter, TokenTable, authorize, authorize_data
from evergreen.serving.context import ServingContext, get_context

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it as bad input, not a 500
MAX_INT = 2**31 - 1

ContextDep = Annotated[ServingContext, Depends(get_context)]


def get_project(request: Request) -> Project:
    st = request.app.state
    project = getattr(st, "project", None) or getattr(getattr(st, "ctx", None), "project", None)
    if not isinstance(project, Project):
        raise NotConfiguredError("the control API has no project on app.state")
    return project


ProjectDep = Annotated[Project, Depends(get_project)]


def _auth(request: Request) -> AuthConfig:
    # The serving context's settings are the ones the app was made with (a test or `serve` may
    # override the project's file); a bare control app has only the project's.
    ctx = getattr(request.app.state, "ctx", None)
    settings = ctx.settings if isinstance(ctx, ServingContext) else get_project(request).settings
    return settings.auth


def get_tokens(request: Request) -> TokenTable:
    st = request.app.state
    table = getattr(st, "control_tokens", None)
    if not isinstance(table, TokenTable):  # read once per app: the environment is fixed at start
        table = st.control_tokens = TokenTable.from_env(_auth(request).tokens_env)
    return table


def get_limiter(request: Request) -> RateLimiter | None:
    st = request.app.state
    if not hasattr(st, "rate_limiter"):  # the app factory sets it; a bare test app gets it here
        per_minute = _auth(request).rate_limit_per_minute
        st.rate_limiter = RateLimiter(per_minute) if per_minute else None
    limiter: RateLimiter | None = st.rate_limiter
    return limiter


def _counted(request: Request, principal: Principal) -> Principal:
    limiter = get_limiter(request)
    if limiter is not None:
        limiter.check(principal)
    return principal


def _local(request: Request) -> dict[str, Any]:
    return {
        "insecure_local": bool(getattr(request.app.state, "insecure_local", False)),
        "client_host": request.client.host if request.client else None,
    }


def require(role: str) -> Callable[..., Principal]:
    """A dependency: the caller if its token grants ``role`` (or higher); 401/403 otherwise."""

    def principal(request: Request) -> Principal:
        who = authorize(get_tokens(request), request.headers.get("authorization"), role, **_local(request))
        return _counted(request, who)

    return principal


def data_caller(endpoint: Literal["predict", "feedback"]) -> Callable[..., Awaitable[Principal | None]]:
    """A dependency: None when ``endpoint`` is open, else its caller (``client`` or higher).

    ``async`` on purpose: it does no I/O (a hash and a comparison), and ``/predict`` should not pay
    a thread-pool hop per request for it.
    """

    async def principal(request: Request) -> Principal | None:
        if endpoint not in _auth(request).require_token_for:
            return None
        who = authorize_data(get_tokens(request), request.headers.get("authorization"), **_local(request))
        return _counted(request, who)

    return principal


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
PredictCaller = Annotated[Principal | None, Depends(data_caller("predict"))]
FeedbackCaller = Annotated[Principal | None, Depends(data_caller("feedback"))]

# Query and path parameters shared by the routes.
Limit = Annotated[int, Query(ge=1, le=1000)]
Filter = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]
Name = Annotated[str, Path(max_length=64, pattern=NO_NUL)]
AlertId = Annotated[int, Path(ge=1, le=MAX_INT)]
