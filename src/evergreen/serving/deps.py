"""What the routes depend on, as ``Annotated`` dependencies.

``ContextDep`` is the serving context the app factory built (``app.state.ctx``); ``ProjectDep`` is
the project the app serves (``app.state.project``, or the serving context's);
``Viewer``, ``Operator`` and ``Admin`` are the caller, authenticated by bearer token and allowed that
role or a higher one (:mod:`evergreen.serving.auth`). A route names what it needs in its signature::

    @router.post("/rollback")
    def rollback(project: ProjectDep, who: Operator, body: RollbackBody) -> ActionOut: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from evergreen.errors import NotConfiguredError
from evergreen.project import Project
from evergreen.serving.auth import Principal, TokenTable, authorize
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


def get_tokens(request: Request, project: ProjectDep) -> TokenTable:
    st = request.app.state
    table = getattr(st, "control_tokens", None)
    if not isinstance(table, TokenTable):  # read once per app: the environment is fixed at start
        table = st.control_tokens = TokenTable.from_env(project.settings.auth.tokens_env)
    return table


def require(role: str) -> Callable[..., Principal]:
    """A dependency: the caller if its token grants ``role`` (or higher); 401/403 otherwise."""

    def principal(request: Request, tokens: Annotated[TokenTable, Depends(get_tokens)]) -> Principal:
        return authorize(
            tokens,
            request.headers.get("authorization"),
            role,
            insecure_local=bool(getattr(request.app.state, "insecure_local", False)),
            client_host=request.client.host if request.client else None,
        )

    return principal


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]

# Query and path parameters shared by the routes.
Limit = Annotated[int, Query(ge=1, le=1000)]
Filter = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]
Name = Annotated[str, Path(max_length=64, pattern=NO_NUL)]
AlertId = Annotated[int, Path(ge=1, le=MAX_INT)]
