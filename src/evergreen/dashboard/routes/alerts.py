"""GET /alerts (open, acknowledged, resolved; by level); acknowledge, resolve, retrain now, investigating."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from evergreen import control
from evergreen.alerts.repository import ALERT_STATUSES
from evergreen.alerts.rules import shown_alert, shown_delivery
from evergreen.dashboard import queries
from evergreen.dashboard.context import (
    IdFilter,
    Operator,
    PageNo,
    Viewer,
    Word,
    one_of,
    posted_form,
    required,
)
from evergreen.dashboard.render import Already, act, page
from evergreen.dashboard.views.alerts import evidence

router = APIRouter()
Form = Annotated[dict[str, str], Depends(posted_form("operator"))]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
STATUSES = ALERT_STATUSES
LEVELS = ("info", "warning", "alert", "critical")


@router.get("/alerts")
def alerts(
    request: Request,
    visit: Viewer,
    page_no: PageNo = 1,
    status: Word = None,
    level: Word = None,
    alert: IdFilter = None,
) -> Response:
    status, level = one_of("status", status, STATUSES), one_of("level", level, LEVELS)
    store = visit.services.project.store
    result = queries.alerts_page(
        store, page=page_no, size=visit.services.page_size, status=status, level=level, alert_id=alert
    )
    deliveries = queries.deliveries_for(store, [int(r["id"]) for r in result.rows])
    redact = visit.services.project.redactor
    rows = []
    for r in result.rows:
        # A row written before the rules scrubbed PII (110c6fa) still holds it: shown as it is sent.
        shown = shown_alert(r, redact)
        sent = [shown_delivery(d, redact) for d in deliveries.get(int(r["id"]), [])]
        rows.append({**shown, "evidence": evidence(shown["details"]), "deliveries": sent})
    return page(
        request,
        visit,
        "alerts.html",
        title="Alerts",
        result=result,
        rows=rows,
        statuses=STATUSES,
        levels=LEVELS,
        filters={"status": status or "", "level": level or "", "alert": alert or ""},
    )


def _back(form: dict[str, str]) -> str:
    target = form.get("back", "")
    return target if target.startswith("/alerts") else "/alerts"


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(alert_id: AlertId, visit: Operator, form: Form) -> Response:
    comment = required(form, "comment", "a comment")
    p = visit.services.project
    return await act(
        visit,
        _back(form),
        lambda: control.acknowledge_alert(p, alert_id, actor=visit.actor, reason=comment),
        lambda _: f"alert {alert_id} acknowledged",
        already=Already("acknowledged", f"alert {alert_id} already acknowledged"),
    )


@router.post("/alerts/{alert_id}/resolve")
async def resolve(alert_id: AlertId, visit: Operator, form: Form) -> Response:
    comment = required(form, "comment", "a comment")
    p = visit.services.project
    return await act(
        visit,
        _back(form),
        lambda: control.resolve_alert(p, alert_id, actor=visit.actor, reason=comment),
        lambda _: f"alert {alert_id} resolved",
        already=Already("resolved", f"alert {alert_id} already resolved"),
    )


@router.post("/alerts/{alert_id}/retrain")
async def retrain_now(request: Request, alert_id: AlertId, visit: Operator, form: Form) -> Response:
    comment = required(form, "comment", "a comment")
    p = visit.services.project

    def run() -> Any:
        from evergreen.alerts.repository import get_alert

        get_alert(p.store, alert_id)  # NotFoundError before anything starts
        ticket = control.request_retrain(
            p,
            actor=visit.actor,
            reason=f"alert {alert_id}: {comment}",
            force=True,
            wait=False,
            background=request.app.state.background_retrains,  # stopped at shutdown
        )
        # Noted once the retrain is asked for: a refused one (a retrain already running) decided nothing.
        control.note_alert(p, alert_id, actor=visit.actor, decision="retrain", reason=comment)
        return ticket

    return await act(visit, _back(form), run)


@router.post("/alerts/{alert_id}/investigate")
async def investigate(alert_id: AlertId, visit: Operator, form: Form) -> Response:
    comment = required(form, "comment", "a comment")
    p = visit.services.project
    return await act(
        visit,
        _back(form),
        lambda: control.note_alert(p, alert_id, actor=visit.actor, decision="investigating", reason=comment),
        lambda _: f"recorded: investigating alert {alert_id}, no action yet",
    )
