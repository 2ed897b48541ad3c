"""Two ``serve --scheduler`` replicas on one PostgreSQL: one runs the loop, the other waits as a
standby for the scheduler lease and takes over when the first stops."""

from __future__ import annotations

from pathlib import Path

from evergreen.project import open_project
from evergreen.store.locks import LeaseLock
from evergreen.store.requests import scheduler_lock_name
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
