"""GET /settings (run-time thresholds: file value, override, in force); POST /settings (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evergreen import control
from evergreen.dashboard.context import Admin, Viewer, posted_form
from evergreen.dashboard.render import act, page
from evergreen.dashboard.views.settings import as_json, parse_changes, threshold_rows
from evergreen.overrides import OVERRIDABLE, get_value

router = APIRouter()
Form = Annotated[dict[str, str], Depends(posted_form("admin"))]
PAGE = "/settings"


@router.get("/settings")
def settings_page(request: Request, visit: Viewer) -> Response:
    project = visit.services.project
    state = control.get_thresholds(project)
    rows = threshold_rows(
        OVERRIDABLE,
        {k: get_value(project.settings, k) for k in OVERRIDABLE},
        state["values"],
        state["overrides"],
    )
    return page(request, visit, "settings.html", title="Settings", rows=rows)


@router.post("/settings")
async def change(visit: Admin, form: Form) -> Response:
    project = visit.services.project
    reason = form.get("reason", "").strip()[:2000] or None

    def run() -> str:
        current = {k: as_json(v) for k, v in control.get_thresholds(project)["values"].items()}
        values, reset = parse_changes(form, OVERRIDABLE, current)
        if not values and not reset:
            return "nothing changed"
        control.set_thresholds(project, values, reset, actor=visit.actor, reason=reason)
        return "changed: " + ", ".join(sorted([*values, *(f"{k} (reset)" for k in reset)]))

    return await act(visit, PAGE, run, str)
