"""Helpers of the alert integration tests: a project on a given database, drift rows, waiting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from evergreen.project import Project
from evergreen.store import open_store
from evergreen.store.engine import utcnow
from evergreen.store.tables import drift_reports
from tests.support.project import make_project_settings


def make_project(root: Path, database_url: str, **alerts: Any) -> Project:
    """A churn project on ``database_url`` with these ``alerts`` settings (no model needed)."""
    settings = make_project_settings(
        root, database_url=database_url, alerts=alerts, serving={"host": "127.0.0.1", "port": 8123}
    )
    return Project(settings, open_store(database_url, settings.project))


def add_report(project: Project, score: float, *, window: str = "7d", n: int = 0, **extra: Any) -> int:
    """One monitoring report row, as the monitoring job writes it, ``n`` minutes after the last."""
    with project.store.begin() as conn:
        res = conn.execute(
            insert(drift_reports).values(
                project=project.store.project,
                report_date=utcnow() + timedelta(minutes=n),
                window=window,
                current_rows=500,
                model_version="1",
                data_drift_score=score,
                drift_detected=score >= 0.3,
                details=extra.get("details") or {"data_drift": {"columns": {"tenure": {"drifted": True}}}},
                prediction_drift_score=extra.get("prediction_drift_score"),
            )
        )
    return int(res.inserted_primary_key[0])  # type: ignore[index]
