"""The scheduler's monitoring pass: it runs the real monitoring job and turns its report into alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from evergreen.alerts.repository import list_alerts
from evergreen.examples import churn
from evergreen.monitoring.report import list_reports
from evergreen.triggers.scheduler import Scheduler
from tests.integration.monitoring.monitoring_helpers import log_predictions, train_project


def test_monitoring_pass_writes_reports_and_raises_a_drift_alert(tmp_path: Path) -> None:
    project = train_project(tmp_path / "m", rows=800, monitoring={"schedule": "0 * * * *"})
    now = datetime.now(UTC)
    drifted = churn.make_batch(9, 600, drifted=True)
    drifted["monthly_fee"] = drifted["monthly_fee"] * 1.8  # a price change no one can miss
    log_predictions(project, drifted, end=now)
    sched = Scheduler(project, clock=lambda: now)
    sched.last_monitoring = now - timedelta(hours=2)
    assert sched.monitor_if_due(now) == "ran"
    assert sched.monitor_if_due(now) is None  # not due again within the same hour
    reports = list_reports(project.store)
    assert {r["window"] for r in reports} == {"7d", "30d"}
    assert all(r["data_drift_score"] > 0 for r in reports)
    sched.raise_alerts()
    kinds = {a["kind"] for a in list_alerts(project.store)}
    assert any("drift" in k for k in kinds), kinds
