"""The control API of DESIGN.md §5: read the state, act on models and alerts, change thresholds.

``build_control_router()`` returns an ``APIRouter`` the serving app includes. It reads the project
from ``app.state.project`` (or ``app.state.ctx.project``) and ``app.state.insecure_local``. Every
route needs a bearer token (see :mod:`evergreen.serving.auth`); every mutating call goes through the
same audited functions as the CLI (:mod:`evergreen.control`, the alert service, the overrides).
Errors are rendered by the app's one handler (:func:`evergreen.serving.errors.install_error_handlers`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from evergreen import control
from evergreen.errors import NotConfiguredError
from evergreen.logs import get_logger
from evergreen.overrides import OVERRIDABLE
from evergreen.project import Project
from evergreen.serving.auth import Principal, TokenTable, authorize
from evergreen.store.audit import list_actions
from evergreen.store.engine import as_utc

log = get_logger(__name__)
NoNul = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it as bad input, not a 500
Text = Annotated[str, Field(max_length=2000, pattern=NoNul)]
Name = Annotated[str, Path(max_length=64, pattern=NoNul)]
MAX_INT = 2**31 - 1


# ---- models --------------------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorInfo(_Out):
    code: str
    message: str
    details: Any = None


class ErrorResponse(_Out):
    error: ErrorInfo


class ModelVersion(_Out):
    version: str
    mlflow_run_id: str | None = None
    created_at: float | None = None
    aliases: list[str] = []
    tags: dict[str, str] = {}
    source: str | None = None


class ModelsResponse(_Out):
    champion: str | None
    previous: str | None
    versions: list[ModelVersion]


class DecisionOut(_Out):
    id: int
    run_id: str | None = None
    outcome: str
    metric: str | None = None
    candidate_version: str | None = None
    champion_version: str | None = None
    candidate_metrics: Any = None
    champion_metrics: Any = None
    deltas: Any = None
    ci_low: float | None = None
    ci_high: float | None = None
    checks: Any = None
    justification: str
    actor: str
    created_at: str


class RunOut(_Out):
    id: str
    trigger: str
    reason: str | None = None
    actor: str | None = None
    status: str
    step: str | None = None
    started_at: str
    finished_at: str | None = None
    timings: Any = None
    dataset_version: str | None = None
    data_size: int | None = None
    candidate_version: str | None = None
    champion_version: str | None = None
    decision: str | None = None
    mlflow_run_id: str | None = None
    error: str | None = None
    details: Any = None


class RunDetail(RunOut):
    decisions: list[DecisionOut] = []


class DriftReportOut(_Out):
    id: int
    report_date: str
    window: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    current_rows: int | None = None
    model_version: str | None = None
    data_drift_score: float | None = None
    prediction_drift_score: float | None = None
    performance_drift_score: float | None = None
    drift_detected: bool | None  # None: fewer rows than monitoring.min_rows, no verdict
    details: Any = None


class AlertOut(_Out):
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


class DeliveryOut(_Out):
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


class AuditEntry(_Out):
    id: int
    actor: str
    action: str
    target: str | None = None
    reason: str | None = None
    before: Any = None
    after: Any = None
    at: str


class RetrainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, description="Why (recorded on the run and in the audit).")
    force: bool = False


class RetrainAccepted(_Out):
    queued: bool  # true: a running scheduler will run it; false: started in this server's background
    request_id: str | None = None
    message: str


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


class RollbackBody(ReasonBody):
    to: Annotated[str, Field(max_length=20, pattern=r"^[0-9]+$")] | None = None


class ActionOut(_Out):
    action: str
    version: str | None = None
    previous: str | None = None
    message: str


class OverrideOut(_Out):
    value: Any = None
    actor: str | None = None
    updated_at: str


class ThresholdsOut(_Out):
    values: dict[str, Any]
    overrides: dict[str, OverrideOut]


ThresholdKey = Literal[OVERRIDABLE]  # type: ignore[valid-type]  # the keys of evergreen.overrides


class ThresholdsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[ThresholdKey, Any] = Field(
        default_factory=dict, description="key → new value (validated as in evergreen.yaml)"
    )
    reset: list[ThresholdKey] = Field(default_factory=list, description="keys back to evergreen.yaml's value")
    reason: Text | None = None


# ---- plumbing ------------------------------------------------------------------------------------
def project_of(request: Request) -> Project:
    st = request.app.state
    project = getattr(st, "project", None) or getattr(getattr(st, "ctx", None), "project", None)
    if not isinstance(project, Project):
        raise NotConfiguredError("the control API has no project on app.state")
    return project


def _tokens(request: Request, project: Project) -> TokenTable:
    st = request.app.state
    table = getattr(st, "control_tokens", None)
    if not isinstance(table, TokenTable):  # read once per app: the environment is fixed at start
        table = st.control_tokens = TokenTable.from_env(project.settings.auth.tokens_env)
    return table


def require(role: str) -> Callable[[Request], Principal]:
    def dep(request: Request) -> Principal:
        project = project_of(request)
        return authorize(
            _tokens(request, project),
            request.headers.get("authorization"),
            role,
            insecure_local=bool(getattr(request.app.state, "insecure_local", False)),
            client_host=request.client.host if request.client else None,
        )

    return dep


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Filter = Annotated[str | None, Query(max_length=200, pattern=NoNul)]
AlertId = Annotated[int, Path(ge=1, le=MAX_INT)]
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (400, 401, 403, 404, 409, 422, 503)
}


# ---- routes --------------------------------------------------------------------------------------
def build_control_router() -> APIRouter:
    r = APIRouter(prefix="/api", tags=["control"], responses=ERRORS)

    @r.get("/models", response_model=ModelsResponse, summary="Registered versions and aliases")
    def models(request: Request, _: Viewer) -> dict[str, Any]:
        reg = project_of(request).registry
        aliases = reg.aliases()
        return {
            "champion": aliases.get("champion"),
            "previous": aliases.get("previous"),
            "versions": [v.to_dict() for v in reg.list_versions()],
        }

    @r.get("/runs", response_model=list[RunOut], summary="Pipeline runs, newest first")
    def runs(request: Request, _: Viewer, status: Filter = None, limit: Limit = 50) -> list[dict[str, Any]]:
        from evergreen.store.runs import list_runs

        return list_runs(project_of(request).store, limit=limit, status=status)

    @r.get("/runs/{run_id}", response_model=RunDetail, summary="One run with its decisions")
    def run(request: Request, _: Viewer, run_id: Name) -> dict[str, Any]:
        from evergreen.store.runs import get_run

        return get_run(project_of(request).store, run_id)

    @r.get("/drift", response_model=list[DriftReportOut], summary="Monitoring reports, newest first")
    def drift(request: Request, _: Viewer, window: Filter = None, limit: Limit = 50) -> list[dict[str, Any]]:
        from evergreen.monitoring.report import list_reports

        return list_reports(project_of(request).store, limit=limit, window=window)

    @r.get("/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
    def alerts(
        request: Request,
        _: Viewer,
        status: Literal["open", "acknowledged", "resolved"] | None = None,
        kind: Filter = None,
        level: Literal["info", "warning", "alert", "critical"] | None = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        from evergreen.alerts.repository import list_alerts

        return list_alerts(project_of(request).store, status=status, kind=kind, level=level, limit=limit)

    @r.get("/alerts/{alert_id}", response_model=AlertDetail, summary="One alert and its delivery attempts")
    def alert(request: Request, _: Viewer, alert_id: AlertId) -> dict[str, Any]:
        from evergreen.alerts.repository import get_alert, list_deliveries

        store = project_of(request).store
        return {**get_alert(store, alert_id), "deliveries": list_deliveries(store, alert_id)}

    @r.get("/audit", response_model=list[AuditEntry], summary="The audit trail (read-only), newest first")
    def audit(
        request: Request,
        _: Viewer,
        actor: Filter = None,
        action: Filter = None,
        target: Filter = None,
        since: datetime | None = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        return list_actions(
            project_of(request).store,
            actor=actor,
            action=action,
            target=target,
            since=as_utc(since),
            limit=limit,
        )

    @r.post("/retrain", response_model=RetrainAccepted, status_code=202, summary="Ask for a retrain")
    def retrain(request: Request, who: Operator, body: RetrainBody) -> dict[str, Any]:
        ticket = control.request_retrain(
            project_of(request), actor=who.actor, reason=body.reason, force=body.force, wait=False
        )
        if ticket.thread is not None:  # joined by tests and at shutdown
            threads = getattr(request.app.state, "control_threads", None)
            if threads is None:
                threads = request.app.state.control_threads = []
            threads.append(ticket.thread)
        return {"queued": ticket.queued, "request_id": ticket.request_id, "message": ticket.message}

    @r.post("/rollback", response_model=ActionOut, summary="Champion back to previous (or a version)")
    def rollback(
        request: Request, who: Operator, body: Annotated[RollbackBody, Body()] = RollbackBody()
    ) -> dict[str, Any]:
        project = project_of(request)
        return control.rollback(project, to=body.to, actor=who.actor, reason=body.reason).to_dict()

    @r.post("/runs/{run_id}/approve", response_model=ActionOut, summary="Approve a pending candidate")
    def approve(
        request: Request, who: Operator, run_id: Name, body: Annotated[ReasonBody, Body()] = ReasonBody()
    ) -> dict[str, Any]:
        project = project_of(request)
        return control.approve(project, run_id, actor=who.actor, reason=body.reason).to_dict()

    @r.post("/runs/{run_id}/reject", response_model=ActionOut, summary="Reject a pending candidate")
    def reject(
        request: Request, who: Operator, run_id: Name, body: Annotated[ReasonBody, Body()] = ReasonBody()
    ) -> dict[str, Any]:
        project = project_of(request)
        return control.reject(
            project, run_id, actor=who.actor, reason=body.reason or "rejected through the control API"
        ).to_dict()

    def _alert_action(
        request: Request, who: Principal, alert_id: int, body: ReasonBody, verb: str
    ) -> dict[str, Any]:
        fn = control.acknowledge_alert if verb == "acknowledge" else control.resolve_alert
        return fn(project_of(request), alert_id, actor=who.actor, reason=body.reason)

    @r.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, summary="Acknowledge an open alert")
    def acknowledge(
        request: Request, who: Operator, alert_id: AlertId, body: Annotated[ReasonBody, Body()] = ReasonBody()
    ) -> dict[str, Any]:
        return _alert_action(request, who, alert_id, body, "acknowledge")

    @r.post("/alerts/{alert_id}/resolve", response_model=AlertOut, summary="Resolve an alert by hand")
    def resolve(
        request: Request, who: Operator, alert_id: AlertId, body: Annotated[ReasonBody, Body()] = ReasonBody()
    ) -> dict[str, Any]:
        return _alert_action(request, who, alert_id, body, "resolve")

    @r.get("/settings/thresholds", response_model=ThresholdsOut, summary="Thresholds in force and overrides")
    def get_thresholds(request: Request, _: Viewer) -> dict[str, Any]:
        return control.get_thresholds(project_of(request))

    @r.put("/settings/thresholds", response_model=ThresholdsOut, summary="Change thresholds at run time")
    def put_thresholds(request: Request, who: Admin, body: ThresholdsUpdate) -> dict[str, Any]:
        return control.set_thresholds(
            project_of(request), body.values, body.reset, actor=who.actor, reason=body.reason
        )

    return r
