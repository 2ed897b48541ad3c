"""GET /models (versions with alias badges); POST promote / rollback (operator, reason + confirmation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from evergreen import control
from evergreen.dashboard.context import (
    DashboardError,
    Operator,
    PageNo,
    Viewer,
    one_of,
    posted_form,
    required,
)
from evergreen.dashboard.render import act, page
from evergreen.dashboard.views.models import version_rows

router = APIRouter()
Form = Annotated[dict[str, str], Depends(posted_form("operator"))]
PAGE = "/models"
DECISIONS = ("promoted", "rejected", "pending_approval", "rolled_back")  # evergreen.decision tag values


@router.get("/models")
def models(
    request: Request,
    visit: Viewer,
    alias: Annotated[str | None, Query(max_length=50)] = None,
    decision: Annotated[str | None, Query(max_length=50)] = None,
    page_no: PageNo = 1,
) -> Response:
    decision = one_of("decision", decision, DECISIONS)
    reader = visit.services.project.registry_reader
    rows = version_rows(reader.list_versions(), alias=alias or None, decision=decision)
    size = visit.services.page_size
    pages = max(1, -(-len(rows) // size))
    shown = rows[(page_no - 1) * size : page_no * size]
    return page(
        request,
        visit,
        "models.html",
        title="Models",
        rows=shown,
        page_no=page_no,
        pages=pages,
        total=len(rows),
        filters={"alias": alias or "", "decision": decision or ""},
        decisions=DECISIONS,
    )


def _confirmed(form: dict[str, str]) -> str:
    reason = required(form, "reason", "a reason")
    if form.get("confirm") != "yes":
        raise DashboardError("tick the confirmation box")
    return reason


@router.post("/models/promote")
async def promote(visit: Operator, form: Form) -> Response:
    version = required(form, "version", "version", max_len=20)
    reason = _confirmed(form)
    p = visit.services.project
    return await act(visit, PAGE, lambda: control.promote(p, version, actor=visit.actor, reason=reason))


@router.post("/models/rollback")
async def rollback(visit: Operator, form: Form) -> Response:
    reason = _confirmed(form)
    to = form.get("to", "").strip() or None
    p = visit.services.project
    return await act(visit, PAGE, lambda: control.rollback(p, to=to, actor=visit.actor, reason=reason))
