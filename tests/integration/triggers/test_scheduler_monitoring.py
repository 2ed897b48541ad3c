"""The scheduler's monitoring pass: it runs the real monitoring job and turns its report into alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from evergreen.alerts.repository import list_alerts
from evergreen.examples import churn
from evergreen.monitoring.report import list_reports
from evergreen.triggers.scheduler import Scheduler
from tests.support.monitoring import log_predictions, train_project


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


def test_a_handful_of_rows_never_alerts_nor_retrains_enough_rows_do(tmp_path: Path) -> None:
    from evergreen.triggers.evaluate import evaluate
    from evergreen.triggers.state import gather_state

    project = train_project(
        tmp_path / "few",
        rows=800,
        monitoring={"schedule": "0 * * * *", "scheduled_windows": ["7d"]},
        triggers={"drift": {"share": 0.1}, "performance": {"metric": "f1_macro", "min": 0.75}},
    )
    now = datetime.now(UTC)
    drifted = churn.make_batch(9, 700, drifted=True)
    drifted["monthly_fee"] = drifted["monthly_fee"] * 1.8
    log_predictions(project, drifted.iloc[:12], end=now - timedelta(hours=1), seed=1)  # labelled, drifted
    sched = Scheduler(project, clock=lambda: now)
    sched.last_monitoring = now - timedelta(hours=2)
    assert sched.monitor_if_due(now) == "ran"
    (few,) = list_reports(project.store)
    assert (few["current_rows"], few["drift_detected"], few["data_drift_score"]) == (12, None, None)
    sched.raise_alerts()
    assert not [a for a in list_alerts(project.store) if a["kind"] in ("drift", "performance")]
    state = gather_state(project, now - timedelta(days=1))
    assert evaluate(state, project.settings.triggers, now).firings == ()

    later = now + timedelta(hours=1)
    log_predictions(project, drifted.iloc[12:], end=later - timedelta(minutes=1), seed=2)
    assert sched.monitor_if_due(later) == "ran"
    newest = list_reports(project.store)[0]
    assert newest["current_rows"] == 700 and newest["drift_detected"] is True
    sched.raise_alerts()
    assert any(a["kind"] == "drift" for a in list_alerts(project.store))
    kinds = {
        f.kind
        for f in evaluate(
            gather_state(project, now - timedelta(days=1)), project.settings.triggers, later
        ).firings
    }
    assert {"drift", "performance"} <= kinds  # the same facts, now with evidence behind them
