"""``/api/runs``: pipeline runs with their decisions; approve or reject a pending candidate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body

from evergreen import control
from evergreen.serving.deps import Limit, Name, Operator, ProjectDep, Viewer
from evergreen.serving.routes.schemas import ActionOut, Out, ReasonBody, control_router
from evergreen.store.runs import RUN_STATUSES

router = control_router()


class DecisionOut(Out):
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


class RunOut(Out):
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


# A status no run can have is a 422 naming the field (it was an empty list, a typo unnoticed).
RunStatus = Literal[RUN_STATUSES]  # type: ignore[valid-type]


@router.get("/runs", response_model=list[RunOut], summary="Pipeline runs, newest first")
def runs(
    project: ProjectDep, _: Viewer, status: RunStatus | None = None, limit: Limit = 50
) -> list[dict[str, Any]]:
    from evergreen.store.runs import list_runs

    return list_runs(project.store, limit=limit, status=status)


@router.get("/runs/{run_id}", response_model=RunDetail, summary="One run with its decisions")
def run(project: ProjectDep, _: Viewer, run_id: Name) -> dict[str, Any]:
    from evergreen.store.runs import get_run

    return get_run(project.store, run_id)


@router.post("/runs/{run_id}/approve", response_model=ActionOut, summary="Approve a pending candidate")
def approve(
    project: ProjectDep, who: Operator, run_id: Name, body: Annotated[ReasonBody, Body()] = ReasonBody()
) -> dict[str, Any]:
    return control.approve(project, run_id, actor=who.actor, reason=body.reason).to_dict()


@router.post("/runs/{run_id}/reject", response_model=ActionOut, summary="Reject a pending candidate")
def reject(
    project: ProjectDep, who: Operator, run_id: Name, body: Annotated[ReasonBody, Body()] = ReasonBody()
) -> dict[str, Any]:
    reason = body.reason or "rejected through the control API"
    return control.reject(project, run_id, actor=who.actor, reason=reason).to_dict()
