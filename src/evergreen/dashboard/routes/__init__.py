"""The dashboard's routes: one module per page, thin (queries and control calls in, a template out)."""

from __future__ import annotations

from fastapi import APIRouter

from evergreen.dashboard.routes import login, models, overview, runs

ROUTERS: tuple[APIRouter, ...] = (login.router, overview.router, runs.router, models.router)
