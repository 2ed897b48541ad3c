"""Response and request models the control API's resources share: the error shape, actions, reasons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from evergreen.serving.deps import NO_NUL
from evergreen.serving.payload import StrictJSONRoute

Text = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]


class Out(BaseModel):
    """A response model: extra keys of the row it is built from are dropped, not refused."""

    model_config = ConfigDict(extra="ignore")


class ErrorInfo(Out):
    code: str
    message: str
    details: Any = None


class ErrorResponse(Out):
    error: ErrorInfo


# Every control route documents these error statuses with the one error shape.
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


class ActionOut(Out):
    action: str
    version: str | None = None
    previous: str | None = None
    message: str


API_PREFIX = "/api"


def control_router() -> APIRouter:
    """One resource's router of the control API (DESIGN.md §5). The ``/api`` prefix is its own: a
    prefix on an enclosing router stays out of its routes' ``path``, which the metrics label is."""
    return APIRouter(prefix=API_PREFIX, tags=["control"], responses=ERRORS, route_class=StrictJSONRoute)
