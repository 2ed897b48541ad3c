"""GET /runs (filter by status and trigger, paginated) and GET /runs/{id}: the decision side by side."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from evergreen.config import TRIGGER_KINDS
from evergreen.dashboard import queries
from evergreen.dashboard.context import PageNo, PageNotFound, RunId, Viewer, Word, one_of
from evergreen.dashboard.render import page
from evergreen.dashboard.views.runs import comparison, run_row
from evergreen.errors import NotFoundError
from evergreen.store.runs import RUN_STATUSES, error_parts, get_run

router = APIRouter()

STATUSES = RUN_STATUSES
TRIGGERS = TRIGGER_KINDS  # the filter offers every kind a run can carry (config's one list)


@router.get("/runs")
def runs(
    request: Request,
    visit: Viewer,
    page_no: PageNo = 1,
    status: Word = None,
    trigger: Word = None,
) -> Response:
    status, trigger = one_of("status", status, STATUSES), one_of("trigger", trigger, TRIGGERS)
    result = queries.runs_page(
        visit.services.project.store,
        page=page_no,
        size=visit.services.page_size,
        status=status,
        trigger=trigger,
    )
    return page(
        request,
        visit,
        "runs.html",
        title="Runs",
        result=result,
        rows=[run_row(r) for r in result.rows],
        filters={"status": status or "", "trigger": trigger or ""},
        statuses=STATUSES,
        triggers=TRIGGERS,
    )


@router.get("/runs/{run_id}")
def run_detail(request: Request, visit: Viewer, run_id: RunId) -> Response:
    try:
        run = get_run(visit.services.project.store, run_id)
    except NotFoundError as exc:
        raise PageNotFound(exc.message) from exc
    decisions = [comparison(d) for d in run.get("decisions", [])]
    error_line, traceback = error_parts(run.get("error"))
    return page(
        request,
        visit,
        "run.html",
        title=f"Run {run_id}",
        run=run,
        error_line=error_line,
        traceback=traceback,
        row=run_row(run),
        decisions=decisions,
        comparison=next((d for d in reversed(decisions) if d.rows), None),
    )
