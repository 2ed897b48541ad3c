"""Run-time thresholds reach the scheduler: ``PUT /api/settings/thresholds`` changes the next tick."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from evergreen.examples import churn
from evergreen.project import Project, open_project
from evergreen.store.engine import utcnow
from evergreen.store.tables import drift_reports
from evergreen.triggers.scheduler import Scheduler
from tests.support.control import ADMIN, control_app
from tests.support.project import make_project_settings


def _project(root: Path) -> Project:
    settings = make_project_settings(
        root,
        triggers={"settle_seconds": 0, "watch_landing": False, "cooldown_minutes": 0},
        monitoring={"schedule": None},
    )
    settings.data.landing.mkdir(parents=True, exist_ok=True)
    for i in (0, 1):
        churn.make_batch(i, 1000, drifted=False).to_csv(settings.data.landing / f"week{i}.csv", index=False)
    return open_project(settings)


def _report(project: Project, at: datetime, share: float) -> None:
    with project.store.begin() as conn:
        conn.execute(
            insert(drift_reports).values(
                project=project.settings.project,
                report_date=at,
                window="7d",
                model_version="1",
                data_drift_score=share,
                drift_detected=False,
                details={},
            )
        )


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now


def test_a_drift_share_override_changes_whether_the_next_tick_fires(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")  # evergreen.yaml: triggers.drift.share 0.3, two batches landed
    clock = Clock()
    sched = Scheduler(project, clock=clock)
    sched.open()
    try:
        first = sched.tick()
        assert first.attempt is not None and first.attempt.outcome is not None
        assert first.attempt.outcome.status == "promoted"

        _report(project, utcnow(), 0.2)  # 20% of the columns drifted: below the file's 0.3
        clock.now = utcnow()
        below = sched.tick()
        assert below.evaluation is not None and below.evaluation.firings == ()
        assert below.attempt is None

        client = TestClient(control_app(project))
        res = client.put(
            "/api/settings/thresholds",
            json={"values": {"triggers.drift.share": 0.15}, "reason": "fire on smaller drift"},
            headers=ADMIN,
        )
        assert res.status_code == 200, res.text
        assert res.json()["values"]["triggers.drift.share"] == 0.15

        clock.now = utcnow()
        after = sched.tick()  # same scheduler, same report: only the threshold changed
        assert after.evaluation is not None
        assert [f.kind for f in after.evaluation.firings] == ["drift"]
        assert after.evaluation.firings[0].numbers["threshold"] == 0.15
        assert after.attempt is not None and after.attempt.run_id is not None
    finally:
        sched.close()
