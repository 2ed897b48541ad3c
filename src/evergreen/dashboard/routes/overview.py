"""GET /: the champion, the newest run, open alerts, the newest report, live performance, next retrain."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from evergreen.control import status
from evergreen.dashboard import queries
from evergreen.dashboard.context import Viewer
from evergreen.dashboard.render import page
from evergreen.dashboard.views.monitoring import readable
from evergreen.dashboard.views.overview import build_overview
from evergreen.overrides import effective_settings
from evergreen.store.engine import utcnow
from evergreen.triggers.scheduler import next_tick

router = APIRouter()


@router.get("/")
def overview(request: Request, visit: Viewer) -> Response:
    project = visit.services.project
    store = project.store
    state = status(project)
    champ = state["champion"]
    settings = effective_settings(project)
    reports = queries.reports_page(store, page=1, size=1)
    tick = next_tick(settings.triggers.schedule, utcnow())
    view = build_overview(
        champion=champ,
        champion_since=queries.champion_since(store, champ["version"]) if champ else "",
        champion_decision=queries.version_decision(store, champ["version"]) if champ else None,
        metric=settings.promotion_metric,
        newest_run=state["runs"][0] if state["runs"] else None,
        alert_counts=queries.alert_counts(store),
        report=readable(reports.rows[0]) if reports.rows else None,
        next_retrain=tick.isoformat() if tick else None,
        pending_approvals=len(state["pending_approval"]),  # status lists at most 50
    )
    return page(request, visit, "overview.html", title="Overview", view=view)
