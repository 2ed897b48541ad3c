"""``/api/models``: the registered versions and aliases; ``/api/rollback`` moves the champion back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body
from pydantic import Field

from evergreen import control
from evergreen.serving.deps import Operator, ProjectDep, Viewer
from evergreen.serving.routes.schemas import ActionOut, Out, ReasonBody, control_router

router = control_router()


class ModelVersion(Out):
    version: str
    mlflow_run_id: str | None = None
    created_at: float | None = None
    aliases: list[str] = []
    tags: dict[str, str] = {}
    source: str | None = None


class ModelsResponse(Out):
    champion: str | None
    previous: str | None
    versions: list[ModelVersion]


class RollbackBody(ReasonBody):
    to: Annotated[str, Field(max_length=20, pattern=r"^[0-9]+$")] | None = None


@router.get("/models", response_model=ModelsResponse, summary="Registered versions and aliases")
def models(project: ProjectDep, _: Viewer) -> dict[str, Any]:
    reg = project.registry
    aliases = reg.aliases()
    return {
        "champion": aliases.get("champion"),
        "previous": aliases.get("previous"),
        "versions": [v.to_dict() for v in reg.list_versions()],
    }


@router.post("/rollback", response_model=ActionOut, summary="Champion back to previous (or a version)")
def rollback(
    project: ProjectDep, who: Operator, body: Annotated[RollbackBody, Body()] = RollbackBody()
) -> dict[str, Any]:
    return control.rollback(project, to=body.to, actor=who.actor, reason=body.reason).to_dict()
