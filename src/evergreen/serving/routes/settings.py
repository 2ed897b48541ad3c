"""``/api/settings/thresholds``: the thresholds in force and their run-time overrides."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evergreen import control
from evergreen.overrides import OVERRIDABLE
from evergreen.serving.deps import Admin, ProjectDep, Viewer
from evergreen.serving.routes.schemas import Out, Text, control_router

router = control_router()

ThresholdKey = Literal[OVERRIDABLE]  # type: ignore[valid-type]  # the keys of evergreen.overrides


class OverrideOut(Out):
    value: Any = None
    actor: str | None = None
    updated_at: str
    ignored: str | None = Field(
        None, description="why the stored value is not in force (evergreen.yaml changed since), or null"
    )


class ThresholdsOut(Out):
    values: dict[str, Any]
    overrides: dict[str, OverrideOut]


class ThresholdsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[ThresholdKey, Any] = Field(
        default_factory=dict, description="key → new value (validated as in evergreen.yaml)"
    )
    reset: list[ThresholdKey] = Field(default_factory=list, description="keys back to evergreen.yaml's value")
    reason: Text | None = None


@router.get("/settings/thresholds", response_model=ThresholdsOut, summary="Thresholds in force and overrides")
def get_thresholds(project: ProjectDep, _: Viewer) -> dict[str, Any]:
    return control.get_thresholds(project)


@router.put("/settings/thresholds", response_model=ThresholdsOut, summary="Change thresholds at run time")
def put_thresholds(project: ProjectDep, who: Admin, body: ThresholdsUpdate) -> dict[str, Any]:
    return control.set_thresholds(project, body.values, body.reset, actor=who.actor, reason=body.reason)
