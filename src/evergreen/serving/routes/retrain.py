"""``/api/retrain``: ask for a retrain; :func:`evergreen.control.request_retrain` queues it or starts it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from evergreen import control
from evergreen.serving.deps import Operator, ProjectDep
from evergreen.serving.routes.schemas import Out, Text, control_router

router = control_router()


class RetrainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, description="Why (recorded on the run and in the audit).")
    # Strict: "yes" or 1 started a forced run; a JSON true or false only.
    force: StrictBool = False


class RetrainAccepted(Out):
    queued: bool  # true: a running scheduler will run it; false: started in this server's background
    request_id: str | None = None
    message: str


@router.post("/retrain", response_model=RetrainAccepted, status_code=202, summary="Ask for a retrain")
def retrain(request: Request, project: ProjectDep, who: Operator, body: RetrainBody) -> dict[str, Any]:
    ticket = control.request_retrain(
        project,
        actor=who.actor,
        reason=body.reason,
        force=body.force,
        wait=False,
        background=request.app.state.background_retrains,  # stopped at shutdown
    )
    return {"queued": ticket.queued, "request_id": ticket.request_id, "message": ticket.message}
