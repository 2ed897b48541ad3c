"""``/api/alerts``: alerts with their delivery attempts; acknowledge or resolve one by hand."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body

from evergreen import control
from evergreen.serving.deps import AlertId, Filter, Limit, Operator, ProjectDep, Viewer
from evergreen.serving.routes.schemas import Out, ReasonBody, control_router

router = control_router()


class AlertOut(Out):
    id: int
    fingerprint: str
    kind: str
    level: str
    status: str
    title: str
    details: Any = None
    opened_at: str
    updated_at: str
    last_sent_at: str | None = None
    resolved_at: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    sent_level: str | None = None
    seen_count: int = 1


class DeliveryOut(Out):
    id: int
    channel: str
    channel_type: str
    event: str
    level: str
    attempt: int
    status: str
    error: str | None = None
    at: str


class AlertDetail(AlertOut):
    deliveries: list[DeliveryOut] = []


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
def alerts(
    project: ProjectDep,
    _: Viewer,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    kind: Filter = None,
    level: Literal["info", "warning", "alert", "critical"] | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    from evergreen.alerts.repository import list_alerts
    from evergreen.alerts.rules import shown_alert

    rows = list_alerts(project.store, status=status, kind=kind, level=level, limit=limit)
    return [shown_alert(r, project.redactor) for r in rows]  # rows from before the scrub too


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="One alert and its delivery attempts")
def alert(project: ProjectDep, _: Viewer, alert_id: AlertId) -> dict[str, Any]:
    from evergreen.alerts.repository import get_alert, list_deliveries
    from evergreen.alerts.rules import shown_alert, shown_delivery

    redact = project.redactor
    deliveries = [shown_delivery(d, redact) for d in list_deliveries(project.store, alert_id)]
    return {**shown_alert(get_alert(project.store, alert_id), redact), "deliveries": deliveries}


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, summary="Acknowledge an open alert")
def acknowledge(
    project: ProjectDep, who: Operator, alert_id: AlertId, body: Annotated[ReasonBody, Body()] = ReasonBody()
) -> dict[str, Any]:
    from evergreen.alerts.rules import shown_alert

    row = control.acknowledge_alert(project, alert_id, actor=who.actor, reason=body.reason)
    return shown_alert(row, project.redactor)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, summary="Resolve an alert by hand")
def resolve(
    project: ProjectDep, who: Operator, alert_id: AlertId, body: Annotated[ReasonBody, Body()] = ReasonBody()
) -> dict[str, Any]:
    from evergreen.alerts.rules import shown_alert

    row = control.resolve_alert(project, alert_id, actor=who.actor, reason=body.reason)
    return shown_alert(row, project.redactor)
