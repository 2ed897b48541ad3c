"""The scheduler while its PostgreSQL stops and comes back."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import update

from evergreen.errors import LeaseLostError, LockHeldError
from evergreen.examples import churn
from evergreen.project import open_project
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.requests import scheduler_lock_name
from evergreen.store.runs import create_run, get_run
from evergreen.store.tables import locks
from evergreen.triggers.scheduler import Scheduler
from tests.support.postgres import PgInstance
from tests.support.project import make_project_settings
from tests.support.serving import wait_until

LEASE_SECONDS = 1.0


def _scheduler_on(tmp_path: Path, pg: PgInstance) -> tuple[Any, str, Scheduler]:
    """A project on ``pg`` with its landing directory, its scheduler lease's name, and a scheduler
    whose lease lasts LEASE_SECONDS."""
    settings = make_project_settings(tmp_path / "p", database_url=pg.url)
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    scheduler = Scheduler(project)
    scheduler.lease_seconds = LEASE_SECONDS
    return project, scheduler_lock_name(settings.project), scheduler


def test_a_scheduler_whose_lease_was_taken_over_during_an_outage_stops_its_passes(
    tmp_path: Path, own_postgres: PgInstance
) -> None:
    # The heartbeat cannot renew the lease while the database is down; once the lease has run out
    # another replica's standby takes it. This one's heartbeat then found the row another's and only
    # logged it: its loop went on, two schedulers ingested, monitored and retrained side by side.
    project, name, a = _scheduler_on(tmp_path, own_postgres)
    a.standby_poll_seconds = 0.1
    try:
        a.start()
        assert not a.standby
        own_postgres.stop()
        time.sleep(LEASE_SECONDS * 2)  # the lease runs out while nothing can renew it
        own_postgres.start()
        # The other replica's standby takes the lease the moment the database is back: what that
        # does to the row (a race with this heartbeat's next beat, made certain here).
        other = {"holder": "other-host:1:standby", "pid": 1, "host": "other-host"}
        with project.store.begin() as conn:
            until = utcnow() + timedelta(hours=1)
            conn.execute(update(locks).where(locks.c.name == name).values(**other, expires_at=until))
        wait_until(lambda: a.standby, "the scheduler to step down to a standby", timeout=30)
        ticks = a.last_tick_at
        held = LeaseLock(project.store, name).current()
        assert held is not None and held.holder == other["holder"]
        # The other replica stops (its lease released): this one takes the scheduler back.
        with project.store.begin() as conn:
            conn.execute(locks.delete().where(locks.c.name == name))
        wait_until(lambda: not a.standby, "the scheduler to take its lease back", timeout=30)
        wait_until(lambda: a.last_tick_at != ticks, "a pass of the scheduler again", timeout=30)
    finally:
        a.stop()
        project.close()
    assert LeaseLock(project.store, name).current() is None


def test_each_pass_with_the_database_down_is_one_log_line_and_the_passes_go_on_once_it_is_back(
    tmp_path: Path, own_postgres: PgInstance
) -> None:
    # The watch after a promotion logged the outage (watch_failed), then the pass failed on it
    # (scheduler_tick_failed): two error lines for one failed pass, at every scan interval.
    settings = make_project_settings(
        tmp_path / "p", database_url=own_postgres.url, triggers={"scan_interval_seconds": 0.2}
    )
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    a = Scheduler(project)
    try:
        a.start()
        with structlog.testing.capture_logs() as logs:
            own_postgres.stop()

            def failed() -> list[dict[str, Any]]:
                return [e for e in logs if e["log_level"] in ("error", "warning")]

            wait_until(
                lambda: sum(e["event"] == "scheduler_tick_failed" for e in failed()) >= 3,
                "three passes with the database down",
                timeout=60,
            )
            own_postgres.start()
            count = len(failed())
            passes = a.last_tick_at
            wait_until(lambda: a.last_tick_at != passes, "a pass once the database is back", timeout=60)
            seen = failed()[:count]
        events = {e["event"] for e in seen} - {"lease_heartbeat_failed"}  # the lease's own beat
        assert events == {"scheduler_tick_failed"}, seen
        assert all(e["error"].startswith("metadata database unavailable: ") for e in seen), seen
        assert not [e for e in seen if e.get("exc_info")]
        assert not a.standby  # still the scheduler: nothing took its lease meanwhile
    finally:
        a.stop()
        project.close()


def test_a_scheduler_stopped_while_the_database_is_down_stops_cleanly_and_its_lease_runs_out(
    tmp_path: Path, own_postgres: PgInstance
) -> None:
    # Releasing the lease needs the database: stop() raised StoreError, and `evergreen scheduler`
    # asked to stop by SIGTERM exited 1 with "error: metadata database unavailable".
    project, name, a = _scheduler_on(tmp_path, own_postgres)
    try:
        a.start()
        own_postgres.stop()
        with structlog.testing.capture_logs() as logs:
            a.stop()
        [kept] = [e for e in logs if e["event"] == "scheduler_lease_not_released"]
        assert kept["log_level"] == "warning" and kept["error"].startswith("metadata database unavailable")
        own_postgres.start()
        # Nobody renews it any more: once it has run out the next scheduler takes it.
        b = Scheduler(project)
        wait_until(lambda: _took(b), "the lease left behind to run out", timeout=60)
        b.stop()
        assert LeaseLock(project.store, name).current() is None
    finally:
        project.close()


def _took(s: Scheduler) -> bool:
    try:
        s.open()
    except LockHeldError:
        return False
    return True


def test_a_scheduler_start_takes_a_run_of_this_process_for_dead_only_by_taking_its_lease(
    tmp_path: Path,
) -> None:
    # `serve --scheduler`: a retrain asked through the API runs in a thread of this process. The
    # database was away past its lease (nothing could renew it) and is back; nobody took the lease,
    # so the run's next beat renews it and its fence lets it register and promote. The scheduler
    # starting meanwhile read the lock as free and marked that live run abandoned: the run went on
    # under an "abandoned" row. A reading is no proof either way (a retrain may also take the lock
    # and open its run between the read and the marking): a run is taken for dead under the lock.
    settings = make_project_settings(tmp_path / "p")
    project = open_project(settings)
    name = retrain_lock_name(settings.project)
    live = LeaseLock(project.store, name, lease_seconds=3600).acquire()  # no beat during this test
    try:
        run_id = create_run(project.store, trigger="manual", reason=None, actor="cli:bob")
        live.set_run(run_id)
        with project.store.begin() as conn:  # what an outage past the lease leaves: the row expired
            conn.execute(
                update(locks).where(locks.c.name == name).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        s = Scheduler(project)
        try:
            s.open()
        finally:
            s.close()
        assert get_run(project.store, run_id)["status"] == "abandoned"
        # ... and so it is: the scheduler took the lease to mark it (and let it go), the run's fence
        # stops it before anything it would do next.
        with pytest.raises(LeaseLostError, match="taken over"):
            live.confirm("register")
        assert LeaseLock(project.store, name).current() is None
    finally:
        live.release()
        project.close()


def test_a_scheduler_whose_lease_was_taken_over_makes_no_pass_before_it_steps_down(
    tmp_path: Path, postgres_url: str
) -> None:
    # Back from an outage the other replica had the lease; this one learnt it at its heartbeat's next
    # beat only (a third of the lease later, 20 s by default), and a pass before it (a landing file,
    # the scan interval) ingested, monitored and retrained beside the other scheduler. The lease is
    # proved (renewed) right before each pass: a taken-over one makes this scheduler step down there.
    settings = make_project_settings(
        tmp_path / "p",
        database_url=postgres_url,
        triggers={"settle_seconds": 0, "scan_interval_seconds": 3600},
    )
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    name = scheduler_lock_name(settings.project)
    a = Scheduler(project)
    a.lease_seconds = 3600  # its heartbeat does not beat during this test
    a.standby_poll_seconds = 0.1
    try:
        a.open()  # the lease is this scheduler's: start() below only starts its loop
        other = {"holder": "other-host:1:standby", "pid": 1, "host": "other-host"}
        with project.store.begin() as conn:  # taken over before its next pass...
            conn.execute(update(locks).where(locks.c.name == name).values(**other))
        landed = settings.data.landing / "late.csv"
        churn.make_batch(5, 50, drifted=False).to_csv(landed, index=False)  # ... which would ingest it
        a.start()
        wait_until(lambda: a.standby or not landed.exists(), "a pass, or the step down", timeout=60)
        assert landed.exists()  # not ingested: that is the other scheduler's to do
        assert a.standby
        held = LeaseLock(project.store, name).current()
        assert held is not None and held.holder == other["holder"]
    finally:
        a.stop()
        project.close()
