"""GET /approvals: candidates waiting, with the comparison; approve or reject with a required comment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evergreen import control
from evergreen.dashboard import queries
from evergreen.dashboard.context import (
    Operator,
    PageNo,
    RunId,
    Viewer,
    Word,
    one_of,
    posted_form,
    required,
)
from evergreen.dashboard.render import Already, act, page
from evergreen.dashboard.routes.runs import TRIGGERS
from evergreen.dashboard.views.runs import comparison, run_row

router = APIRouter()
Form = Annotated[dict[str, str], Depends(posted_form("operator"))]
PAGE = "/approvals"


@router.get("/approvals")
def approvals(
    request: Request,
    visit: Viewer,
    page_no: PageNo = 1,
    trigger: Word = None,
) -> Response:
    trigger = one_of("trigger", trigger, TRIGGERS)
    store = visit.services.project.store
    result = queries.runs_page(store, page=page_no, size=10, status="pending_approval", trigger=trigger)
    decisions = queries.run_decisions(store, [r["id"] for r in result.rows])
    waiting = [
        (run_row(r), comparison(decisions[r["id"]]) if r["id"] in decisions else None) for r in result.rows
    ]
    return page(
        request,
        visit,
        "approvals.html",
        title="Approvals",
        result=result,
        waiting=waiting,
        filters={"trigger": trigger or ""},
        triggers=TRIGGERS,
    )


@router.post("/approvals/{run_id}/approve")
async def approve(run_id: RunId, visit: Operator, form: Form) -> Response:
    comment = required(form, "comment", "a comment")
    p = visit.services.project
    return await act(
        visit,
        PAGE,
        lambda: control.approve(p, run_id, actor=visit.actor, reason=comment),
        already=Already("promoted", f"run {run_id} already approved: its candidate was promoted"),
    )


@router.post("/approvals/{run_id}/reject")
async def reject(run_id: RunId, visit: Operator, form: Form) -> Response:
    comment = required(form, "comment", "a comment")
    p = visit.services.project
    return await act(
        visit,
        PAGE,
        lambda: control.reject(p, run_id, actor=visit.actor, reason=comment),
        already=Already("rejected", f"run {run_id} already rejected"),
    )
