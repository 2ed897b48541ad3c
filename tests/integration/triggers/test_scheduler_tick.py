"""The scheduler's passes against a real project (SQLite metadata, real MLflow), on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from evergreen.examples import churn
from evergreen.pipeline import lock_name, stages
from evergreen.project import open_project
from evergreen.store.audit import list_actions
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, models_lock_name
from evergreen.store.requests import enqueue_retrain, get_request, scheduler_running
from evergreen.store.runs import get_run, list_runs
from evergreen.store.tables import drift_reports, locks
from evergreen.triggers.evaluate import TriggerFiring
from evergreen.triggers.execute import RetrainExecutor
from evergreen.triggers.scheduler import Scheduler
from tests.support.project import make_project_settings

WED = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _project(root: Path, **triggers: Any) -> Any:
    settings = make_project_settings(
        root,
        triggers={"settle_seconds": 0, "watch_landing": False, **triggers},
        monitoring={"schedule": None},
    )
    settings.data.landing.mkdir(parents=True, exist_ok=True)
    return open_project(settings)


def _drop(project: Any, index: int, rows: int = 1000) -> None:
    frame = churn.make_batch(index, rows, drifted=False)
    frame.to_csv(project.settings.data.landing / f"week{index:02d}.csv", index=False)


def _report(project: Any, at: datetime, share: float, details: dict[str, Any] | None = None) -> None:
    with project.store.begin() as conn:
        conn.execute(
            insert(drift_reports).values(
                project=project.settings.project,
                report_date=at,
                window="7d",
                model_version="1",
                data_drift_score=share,
                drift_detected=share >= 0.3,
                details=details or {},
            )
        )


def test_each_trigger_fires_once_for_its_cause(tmp_path: Path):
    project = _project(tmp_path / "p")
    clock = Clock(utcnow())
    sched = Scheduler(project, clock=clock)
    sched.open()
    try:
        assert scheduler_running(project.store)
        _drop(project, 0)
        _drop(project, 1)
        first = sched.tick()
        assert [r.status for r in first.ingested] == ["accepted", "accepted"]
        assert first.attempt is not None and first.attempt.outcome is not None
        assert first.attempt.outcome.status == "promoted"
        run = get_run(project.store, first.attempt.run_id or "")
        assert run["trigger"] == "new_data" and run["actor"] == "system"
        assert run["reason"] == (
            "new data: 2000 labelled rows since the champion's dataset (no champion yet), 2000 since the "
            "last run; min_rows 1000"
        )
        started = datetime.fromisoformat(run["started_at"])
        clock.now = utcnow()
        assert sched.tick().attempt is None  # nothing new since the champion

        # A manual request is not held back by the cooldown and names who asked.
        rid = enqueue_retrain(project.store, "new labels from the CRM", "api:alice")
        manual = sched.tick()
        assert manual.attempt is not None and manual.attempt.outcome is not None
        req = get_request(project.store, rid)
        assert req is not None and (req.status, req.run_id) == ("done", manual.attempt.run_id)
        mrun = get_run(project.store, req.run_id or "")
        assert (mrun["trigger"], mrun["actor"], mrun["status"]) == ("manual", "api:alice", "skipped")

        # Drift inside the cooldown waits; after it, it fires once for that report.
        _report(project, utcnow(), 0.5)
        clock.now = utcnow()
        cooling = sched.tick()
        assert cooling.attempt is None and cooling.evaluation is not None
        assert [f.kind for f in cooling.evaluation.suppressed] == ["drift"]
        assert cooling.evaluation.cooldown_until == started + timedelta(minutes=60)
        clock.now = started + timedelta(minutes=60)
        drift = sched.tick()
        assert drift.attempt is not None and drift.attempt.run_id is not None
        assert get_run(project.store, drift.attempt.run_id)["reason"].startswith(
            "drift: 50.0% of columns drifted in report"
        )
        clock.now = started + timedelta(minutes=200)
        assert sched.tick().attempt is None
        runs = list_runs(project.store)
        assert [r["trigger"] for r in runs] == ["drift", "manual", "new_data"]
    finally:
        sched.close()
    assert not scheduler_running(project.store)


def test_firings_while_a_retrain_runs_are_coalesced_into_one_follow_up(tmp_path: Path):
    project = _project(tmp_path / "p", cooldown_minutes=0)
    sched = Scheduler(project, clock=Clock(WED))
    sched.open()
    other = LeaseLock(project.store, lock_name(project.settings.project)).acquire()  # another process
    try:
        _drop(project, 0)
        _drop(project, 1)
        r1 = enqueue_retrain(project.store, "first", "cli:bob")
        r2 = enqueue_retrain(project.store, "second", "api:carol")
        held = sched.tick()
        assert held.attempt is not None and held.attempt.status == "lock_held"
        assert {get_request(project.store, r).status for r in (r1, r2)} == {"queued"}  # type: ignore[union-attr]
        assert sched.tick().attempt.status == "lock_held"  # type: ignore[union-attr]
        other.release()
        follow = sched.tick()
        assert follow.attempt is not None and follow.attempt.status == "ran"
        run = get_run(project.store, follow.attempt.run_id or "")
        assert (run["trigger"], run["actor"]) == ("manual", "api:carol,cli:bob")
        assert "new data: 2000 labelled rows" in run["reason"] and "first" in run["reason"]
        assert {get_request(project.store, r).run_id for r in (r1, r2)} == {run["id"]}  # type: ignore[union-attr]
        assert len(list_runs(project.store)) == 1
        assert sched.tick().attempt is None
    finally:
        sched.close()


def test_a_deterministic_failure_is_reported_once_and_not_retried(tmp_path: Path):
    settings = make_project_settings(
        tmp_path / "p",
        training={"candidates": ["tests.support.candidates:broken"]},
        triggers={"settle_seconds": 0, "watch_landing": False, "cooldown_minutes": 0},
        monitoring={"schedule": None},
    )
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    sched = Scheduler(project, clock=Clock(WED))
    sched.open()
    try:
        _drop(project, 0)
        _drop(project, 1)
        failed = sched.tick()
        assert failed.attempt is not None and failed.attempt.status == "failed"
        assert failed.attempt.error is not None and failed.attempt.error.startswith(
            "training_failed: every candidate"
        )
        run = get_run(project.store, failed.attempt.run_id or "")
        assert run["status"] == "failed" and run["error"].startswith("training_failed")
        again = sched.tick()
        assert again.attempt is None and again.evaluation is not None and again.evaluation.firings == ()
        [audit] = list_actions(project.store, action="retrain_failed")
        assert audit["target"] == f"run:{run['id']}" and audit["after"]["transient"] is False
        assert audit["after"]["causes"] == ["new_data:batch:2"]
    finally:
        sched.close()


def test_transient_failures_back_off_then_give_up(tmp_path: Path):
    # MLflow's store cannot be opened: a RegistryError on every attempt, which is worth retrying.
    settings = make_project_settings(
        tmp_path / "p",
        triggers={"max_retries": 2, "backoff_seconds": 30, "backoff_max_seconds": 45},
    )
    storage = settings.storage.model_copy(update={"mlflow_tracking_uri": "sqlite:////proc/no-such/mlflow.db"})
    broken = open_project(settings.model_copy(update={"storage": storage}))
    broken.settings.data.landing.mkdir(parents=True, exist_ok=True)
    _drop(broken, 0)
    _drop(broken, 1)
    executor = RetrainExecutor(broken, broken.settings.triggers)
    firing = [TriggerFiring(kind="new_data", reason="test", cause="new_data:batch:2")]
    plans = [executor.run(firing, WED) for _ in range(3)]
    assert [p.status for p in plans] == ["retry", "retry", "failed"]
    assert [p.retry_at for p in plans] == [WED + timedelta(seconds=30), WED + timedelta(seconds=45), None]
    assert all((p.error or "").startswith("registry_error") for p in plans)
    assert executor.exhausted == {"new_data:batch:2"}
    statuses = [r["status"] for r in list_runs(broken.store)]
    assert statuses == ["failed", "failed", "failed"]
    actions = list_actions(broken.store, action="retrain_failed")
    assert [a["after"]["transient"] for a in actions] == [True, True, True]
    assert [a["after"]["attempts"] for a in actions] == [3, 2, 1]


def test_a_lease_taken_over_mid_run_abandons_the_run_without_failing_its_firings(tmp_path: Path):
    # The heartbeat stalled long enough for another process to take the retrain lease over: the
    # fence stops the run before it registers. That is no failure of the work: no failure alert, the
    # cause stays live and the manual request waits for the next run.
    project = _project(tmp_path / "p")
    _drop(project, 0)
    _drop(project, 1)
    lock = lock_name(project.settings.project)

    def steal(event: str, data: dict[str, Any]) -> None:
        if event == "step" and data.get("step") == "register":
            with project.store.begin() as conn:
                conn.execute(update(locks).where(locks.c.name == lock).values(holder="other-host:1:x"))

    executor = RetrainExecutor(project, project.settings.triggers, progress=steal)
    request = enqueue_retrain(project.store, "please", "cli:bob")
    firings = [
        TriggerFiring(kind="new_data", reason="test", cause="new_data:batch:2"),
        TriggerFiring(kind="manual", reason="please", cause=f"manual:{request}", request_id=request),
    ]
    attempt = executor.run(firings, WED)
    assert attempt.status == "abandoned"
    assert attempt.error is not None and "taken over" in attempt.error
    assert get_run(project.store, attempt.run_id or "")["status"] == "abandoned"
    assert executor.exhausted == set()
    assert list_actions(project.store, action="retrain_failed") == []
    assert get_request(project.store, request).status == "queued"  # type: ignore[union-attr]


def test_a_person_holding_the_models_lease_past_the_wait_gets_the_run_retried_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run trained and decided to promote, but a person's action held the models lease for all of
    # the promote stage's wait. That is neither "another retrain runs" (lock_held: the firings would
    # be folded into a follow-up that never comes, and no alert says why the run failed) nor a
    # failure for good: the run fails as models_busy, nothing moves, and the executor retries later.
    project = _project(tmp_path / "p")
    _drop(project, 0)
    _drop(project, 1)
    monkeypatch.setattr(stages, "AUTOMATED_WAIT_SECONDS", 0.5)
    person = LeaseLock(project.store, models_lock_name(project.settings.project)).acquire()
    request = enqueue_retrain(project.store, "please", "cli:bob")
    firings = [
        TriggerFiring(kind="new_data", reason="test", cause="new_data:batch:2"),
        TriggerFiring(kind="manual", reason="please", cause=f"manual:{request}", request_id=request),
    ]
    try:
        attempt = RetrainExecutor(project, project.settings.triggers).run(firings, WED)
    finally:
        person.release()

    assert attempt.status == "retry" and attempt.retry_at == WED + timedelta(seconds=30)
    assert (attempt.error or "").startswith("models_busy: the models lease stayed held for 0.5 s")
    run = get_run(project.store, attempt.run_id or "")
    assert run["status"] == "failed" and run["error"].startswith("models_busy")
    assert project.registry.aliases() == {}  # nothing moved
    assert get_request(project.store, request).status == "queued"  # type: ignore[union-attr]
    [failed] = list_actions(project.store, action="retrain_failed")
    assert (failed["after"]["transient"], failed["after"]["attempts"]) == (True, 1)
