"""Liveness, readiness, versions and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from evergreen import __version__
from evergreen.errors import NotReadyError
from evergreen.serving.deps import ContextDep
from evergreen.serving.errors import render

router = APIRouter(tags=["service"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: a champion model is loaded",
    response_model=None,
    responses={503: {"description": "no champion loaded yet (the body names the prediction log's state)"}},
)
async def ready(ctx: ContextDep) -> JSONResponse | dict[str, Any]:
    # The status follows the model alone: a degraded prediction log still answers predictions, so a
    # load balancer must keep routing here; the log's state is in the body (and in the metrics).
    # What the registry's alias names is in the body too: a champion deleted by hand (its alias goes
    # with it) or moved to a version that cannot load leaves the old model serving, and that is said.
    version = ctx.holder.version
    alias = ctx.watcher.alias
    problem = alias.problem(version)
    if version is None:
        details = {"prediction_log": ctx.log.health, "champion_alias": alias.version}
        message = f"no champion model is loaded: {problem}" if problem else "no champion model is loaded yet"
        return render(NotReadyError(message, details=details), redact=ctx.project.redactor)
    body: dict[str, Any] = {"status": "ready", "model_version": version, "prediction_log": ctx.log.health}
    if alias.checked:
        body["champion_alias"] = alias.version
    if problem:
        body["warning"] = problem
    return body


@router.get("/version", summary="Package and model versions")
async def version(ctx: ContextDep) -> dict[str, Any]:
    import mlflow

    cur, shadow = ctx.holder.current, ctx.holder.shadow
    return {
        "package": __version__,
        "mlflow": mlflow.__version__,
        "project": ctx.settings.project,
        "model_version": cur.version if cur else None,
        "loaded_at": cur.loaded_at if cur else None,
        "shadow_version": shadow.version if shadow else None,
        "schema": cur.schema.to_dict() if cur else None,
    }


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
async def metrics(ctx: ContextDep) -> Response:
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
