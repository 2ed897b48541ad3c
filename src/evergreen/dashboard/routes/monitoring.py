"""GET /monitoring (drift and performance over time, paginated by report) and the stored HTML reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from markupsafe import Markup
from starlette.responses import FileResponse, Response

from evergreen.dashboard import queries
from evergreen.dashboard.charts import render_svg, series_color
from evergreen.dashboard.context import PageNo, PageNotFound, Viewer, Word
from evergreen.dashboard.render import page
from evergreen.dashboard.views.monitoring import monitoring_view
from evergreen.overrides import effective_settings

router = APIRouter()
CHART_POINTS = 30  # reports per chart page: older ones are a page further


@router.get("/monitoring")
def monitoring(
    request: Request,
    visit: Viewer,
    page_no: PageNo = 1,
    window: Word = None,
) -> Response:
    project = visit.services.project
    result = queries.reports_page(project.store, page=page_no, size=CHART_POINTS, window=window or None)
    view = monitoring_view(result.rows, effective_settings(project).promotion_metric)
    main = [p for p in (view.dataset, view.prediction, view.performance) if p is not None]
    return page(
        request,
        visit,
        "monitoring.html",
        title="Monitoring",
        result=result,
        view=view,
        plots=[(p, Markup(render_svg(p.chart))) for p in main],
        columns=[(p, Markup(render_svg(p.chart))) for p in view.columns],
        color=series_color,
        filters={"window": window or ""},
    )


@router.get("/monitoring/reports/{report_id}")
def report(visit: Viewer, report_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]) -> Response:
    project = visit.services.project
    stored = queries.report_path(project.store, report_id)
    reports_dir = project.settings.storage.reports_dir.resolve()
    if not stored:
        raise PageNotFound(f"report {report_id} has no HTML file (never written, or pruned by keep_reports)")
    path = Path(stored).resolve()
    # Only files under storage.reports_dir are served, whatever a row says.
    if not path.is_relative_to(reports_dir) or not path.is_file():
        raise PageNotFound(f"the HTML file of report {report_id} is gone")
    return FileResponse(path, media_type="text/html", headers={"Content-Security-Policy": "sandbox"})
