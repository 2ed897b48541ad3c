"""/api/drift serves a report without a verdict (too few rows): drift_detected null, details intact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from evergreen.store.tables import drift_reports
from tests.support.control import VIEWER, control_app


def test_a_report_without_a_verdict_is_served(trained_project: Any) -> None:
    details = {"status": "insufficient_data", "current_rows": 3, "min_rows": 500}
    with trained_project.store.begin() as conn:
        conn.execute(
            insert(drift_reports).values(
                project=trained_project.store.project,
                report_date=datetime(2026, 3, 1, tzinfo=UTC),
                window="7d",
                current_rows=3,
                drift_detected=None,
                details=details,
            )
        )
    with TestClient(control_app(trained_project)) as client:
        res = client.get("/api/drift", headers=VIEWER)
    trained_project.close()
    assert res.status_code == 200, res.text
    (row,) = res.json()
    assert (row["drift_detected"], row["data_drift_score"], row["current_rows"]) == (None, None, 3)
    assert row["details"] == details
