"""The control API of DESIGN.md §5 under ``/api``: one module per resource, one router for them all.

Every route needs a bearer token (:mod:`evergreen.serving.deps`: ``Viewer``, ``Operator``,
``Admin``) and calls :mod:`evergreen.control` for every action, as the CLI does; reads go to the
store. Errors are rendered by the app's one handler (:mod:`evergreen.serving.errors`).
"""

from __future__ import annotations

from fastapi import APIRouter

from evergreen.serving.routes import alerts, audit, drift, models, retrain, runs, settings

RESOURCES = (models, runs, drift, alerts, audit, retrain, settings)

router = APIRouter()  # each resource's router carries the /api prefix (schemas.control_router)
for _resource in RESOURCES:
    router.include_router(_resource.router)
