"""GET /history: the audit trail, filterable by actor, action, version or alert/run, and date.

``GET /audit`` (the page's name in DESIGN.md §5) leads there too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from evergreen.dashboard import queries
from evergreen.dashboard.context import BadAddress, Day, PageNo, Viewer
from evergreen.dashboard.render import page
from evergreen.dashboard.views.history import day_bounds, story_row

router = APIRouter()
Text = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")]


@router.get("/history")
def history(
    request: Request,
    visit: Viewer,
    page_no: PageNo = 1,
    actor: Text = None,
    action: Text = None,
    version: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]*$")] = None,
    target: Text = None,
    since: Day = None,
    until: Day = None,
) -> Response:
    if since and until and since > until:  # was an empty history, read as "nothing happened"
        raise BadAddress(f"since {since.isoformat()} is after until {until.isoformat()}: no day is in both")
    store = visit.services.project.store
    start, end = day_bounds(since, until)
    result = queries.audit_page(
        store,
        page=page_no,
        size=visit.services.page_size,
        actor=actor or None,
        action=action or None,
        target=f"version:{version}" if version else (target or None),
        since=start,
        until=end,
    )
    filters = {
        "actor": actor or "",
        "action": action or "",
        "version": version or "",
        "target": target or "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    return page(
        request,
        visit,
        "history.html",
        title="History",
        result=result,
        rows=[story_row(r) for r in result.rows],
        actions=queries.audit_actions(store),
        filters=filters,
    )


@router.get("/audit")
def audit(request: Request) -> Response:
    """DESIGN.md §5 names the page "audit": that URL opens the History page, filters and all."""
    query = request.url.query
    return RedirectResponse("/history" + (f"?{query}" if query else ""), status_code=307)
