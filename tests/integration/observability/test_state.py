"""read_loop_state on a real metadata database (SQLite and PostgreSQL), rows written by evergreen's own
writers: the champion from the audit trail, runs, decisions, the newest report per window, alerts,
locks and the prediction log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from evergreen.observability.state import read_loop_state
from evergreen.store.audit import record_action
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock
from evergreen.store.runs import create_run, finish_run, record_decision
from evergreen.store.tables import alerts, drift_reports, predictions


def _report(store: Any, window: str, share: float, age_minutes: int) -> None:
    details = {
        "data_drift": {
            "share": share,
            "drift_share": 0.3,
            "columns": {"tenure": {"method": "ks", "score": 0.01, "threshold": 0.05, "drifted": True}},
        },
        "performance": {"metric": "f1_macro", "baseline": 0.9, "estimated": 0.8, "threshold": 0.05},
    }
    with store.begin() as conn:
        conn.execute(
            insert(drift_reports).values(
                project=store.project,
                report_date=utcnow() - timedelta(minutes=age_minutes),
                window=window,
                current_rows=500,
                data_drift_score=share,
                drift_detected=share >= 0.3,
                details=details,
            )
        )


def test_read_loop_state_from_real_rows(store: Any) -> None:
    run1 = create_run(store, trigger="manual", reason="first", actor="t")
    finish_run(store, run1, "promoted")
    record_decision(store, run1, outcome="promoted", justification="first model")
    record_action(store, actor="system", action="promote", before={"champion": None}, after={"champion": "1"})
    record_action(store, actor="ops", action="alert_acknowledged", target="alert:1")
    run2 = create_run(store, trigger="drift", reason="drift", actor="t")
    finish_run(store, run2, "failed", error="boom")
    record_decision(store, None, outcome="rejected", justification="not better")
    _report(store, "7d", 0.5, age_minutes=60)
    _report(store, "7d", 0.2, age_minutes=5)  # the newest of the window wins
    _report(store, "batch:3", 0.9, age_minutes=1)  # an ad-hoc window: not exported
    now = utcnow()
    with store.begin() as conn:
        for level, status in (("critical", "open"), ("warning", "acknowledged"), ("alert", "resolved")):
            conn.execute(
                insert(alerts).values(
                    project=store.project, fingerprint=f"f-{level}", kind="drift", level=level,
                    status=status, title="t", opened_at=now, updated_at=now,
                )
            )  # fmt: skip
        conn.execute(
            insert(predictions).values(
                id="p1", project=store.project, created_at=now, model_version="1", record={}, role="champion"
            )
        )
    lease = LeaseLock(store, "scheduler:testproj").acquire()
    try:
        state = read_loop_state(
            store, ("7d", "30d"), retrain_lock="retrain:testproj", scheduler_lock="scheduler:testproj"
        )
    finally:
        lease.release()

    assert state.champion_version == "1" and state.champion_since is not None
    assert state.last_decision is not None and state.last_decision[0] == "rejected"
    assert dict(state.decisions) == {"promoted": 1, "rejected": 1}
    assert dict(state.runs.counts) == {"promoted": 1, "failed": 1}
    assert state.runs.consecutive_failures == 1
    assert [(d.window, d.share) for d in state.drift] == [("7d", 0.2)]
    assert state.drift[0].performance == {"baseline": 0.9, "estimated": 0.8}
    assert state.alerts[("critical", "open")] == 1 and state.alerts[("warning", "acknowledged")] == 1
    assert sum(state.alerts.values()) == 2  # resolved alerts are not counted
    assert state.scheduler_lease_expires is not None and state.scheduler_lease_expires > now
    assert state.retrain_lease_expires is None
    assert state.last_prediction_at == now  # SQLite: read through the created_at index by name
