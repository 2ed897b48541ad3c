"""Two ``serve --scheduler`` replicas on one PostgreSQL: one runs the loop, the other waits as a
standby for the scheduler lease and takes over when the first stops."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from evergreen.project import open_project
from evergreen.store.locks import LeaseLock
from evergreen.store.requests import scheduler_lock_name
from evergreen.store.tables import locks
from evergreen.triggers import scheduler
from evergreen.triggers.scheduler import Scheduler
from tests.support.project import make_project_settings
from tests.support.serving import wait_until


def test_the_second_scheduler_waits_and_takes_over(tmp_path: Path, postgres_url: str) -> None:
    settings = make_project_settings(tmp_path / "p", database_url=postgres_url)
    settings.data.landing.mkdir(parents=True)
    first, second = open_project(settings), open_project(settings)
    a, b = Scheduler(first), Scheduler(second)
    b.standby_poll_seconds = 0.2
    lock = LeaseLock(first.store, scheduler_lock_name(settings.project))
    try:
        a.start()
        assert not a.standby
        b.start()  # the lease is held: a standby, not an error
        assert b.standby
        held = lock.current()
        assert held is not None and held.holder == a._lease.holder  # type: ignore[union-attr]

        a.stop()
        wait_until(lambda: not b.standby, "the standby to take the scheduler lease over", timeout=120)
        held = lock.current()
        assert held is not None and held.holder == b._lease.holder  # type: ignore[union-attr]
        wait_until(lambda: b.last_tick_at is not None, "the new scheduler's first pass", timeout=120)
    finally:
        a.stop()
        b.stop()
        first.close()
        second.close()
    assert lock.current() is None  # the last one released it


def test_a_standby_taking_the_lease_as_it_is_stopped_releases_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stop() gives up joining the standby's thread after its timeout; if that thread was then taking
    # the lease (a slow database), nobody else would release it: the heartbeat renews it until the
    # process exits, and no other replica's scheduler can start meanwhile.
    settings = make_project_settings(tmp_path / "p")
    settings.data.landing.mkdir(parents=True)
    first, second = open_project(settings), open_project(settings)
    a, b = Scheduler(first), Scheduler(second)
    b.standby_poll_seconds = 0.1
    name = scheduler_lock_name(settings.project)
    taking, go_on = threading.Event(), threading.Event()

    class SlowToAnswer(LeaseLock):
        def acquire(self) -> LeaseLock:
            got = super().acquire()  # the row is written; the answer is slow to come back
            if self.name == name and threading.current_thread().name == "evergreen-scheduler-standby":
                taking.set()
                go_on.wait(60)
            return got

    monkeypatch.setattr(scheduler, "LeaseLock", SlowToAnswer)
    lock = LeaseLock(first.store, name)
    try:
        a.start()
        b.start()
        assert b.standby
        a.stop()
        assert taking.wait(120), "the standby never tried the lease"
        b.stop(timeout=0.1)  # gives up on the thread, which is still inside acquire()
        go_on.set()
        for t in threading.enumerate():
            if t.name == "evergreen-scheduler-standby":
                t.join(120)
        assert lock.current() is None
    finally:
        go_on.set()
        a.stop()
        b.stop()
        first.close()
        second.close()


def test_a_scheduler_taking_its_lease_back_as_it_is_stopped_releases_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same as a standby's, for a scheduler that stepped down (its lease taken over during an
    # outage) and takes the lease back as stop() gives up joining its thread: nobody released it.
    settings = make_project_settings(tmp_path / "p", triggers={"scan_interval_seconds": 3600})
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    a = Scheduler(project)
    a.lease_seconds = 3600
    a.standby_poll_seconds = 0.1
    name = scheduler_lock_name(settings.project)
    taking, go_on = threading.Event(), threading.Event()

    class SlowToAnswer(LeaseLock):
        def acquire(self) -> LeaseLock:
            got = super().acquire()  # the row is written; the answer is slow to come back
            if self.name == name and threading.current_thread().name == "evergreen-scheduler":
                taking.set()
                go_on.wait(60)
            return got

    monkeypatch.setattr(scheduler, "LeaseLock", SlowToAnswer)
    lock = LeaseLock(project.store, name)
    try:
        a.open()  # the lease is this scheduler's: start() below only starts its loop
        with project.store.begin() as conn:  # another replica took the lease before its next pass
            conn.execute(
                update(locks).where(locks.c.name == name).values(holder="other-host:1:x", host="other-host")
            )
        a.start()
        wait_until(lambda: a.standby, "the scheduler to step down")
        with project.store.begin() as conn:  # the other replica stops
            conn.execute(locks.delete().where(locks.c.name == name))
        assert taking.wait(120), "the scheduler never tried its lease again"
        threads = list(a._threads)
        a.stop(timeout=0.1)  # gives up on the thread, which is still inside acquire()
        go_on.set()
        for t in threads:
            t.join(120)
        assert lock.current() is None
    finally:
        go_on.set()
        a.stop()
        project.close()
