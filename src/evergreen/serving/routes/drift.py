"""``/api/drift``: the monitoring reports, newest first."""

from __future__ import annotations

from typing import Any

from evergreen.serving.deps import Filter, Limit, ProjectDep, Viewer
from evergreen.serving.routes.schemas import Out, control_router

router = control_router()


class DriftReportOut(Out):
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


@router.get("/drift", response_model=list[DriftReportOut], summary="Monitoring reports, newest first")
def drift(project: ProjectDep, _: Viewer, window: Filter = None, limit: Limit = 50) -> list[dict[str, Any]]:
    from evergreen.monitoring.report import list_reports

    return list_reports(project.store, limit=limit, window=window)
