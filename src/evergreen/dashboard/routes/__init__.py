"""The dashboard's routes: one module per page, thin (queries and control calls in, a template out)."""

from __future__ import annotations

from fastapi import APIRouter

from evergreen.dashboard.routes import (
    alerts,
    approvals,
    history,
    login,
    models,
    monitoring,
    overview,
    predict,
    runs,
    settings,
)

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    overview.router,
    runs.router,
    models.router,
    monitoring.router,
    alerts.router,
    approvals.router,
    history.router,
    settings.router,
    predict.router,
)
