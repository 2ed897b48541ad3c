"""A retrain whose metadata database (PostgreSQL) stops between two stages, and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evergreen.errors import StoreError
from evergreen.examples import churn
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.runs import get_run, list_runs
from tests.support.monitoring import train_project
from tests.support.postgres import PgInstance
from tests.support.serving import wait_until


@pytest.fixture
def pg_project(tmp_path: Path, own_postgres: PgInstance) -> Iterator[Project]:
    """The churn project on a PostgreSQL of its own, after one retrain: v1 is the champion."""
    project = train_project(tmp_path / "churn", database_url=own_postgres.url)
    yield project
    project.store.engine.dispose()


def test_a_run_cut_off_by_the_database_is_not_left_running_in_the_process_that_goes_on(
    pg_project: Project, own_postgres: PgInstance
) -> None:
    # The scheduler (or `serve`) outlives the outage. The run's failure could not be written (the
    # database was down), and a run of a live process was never taken for dead: it read "running"
    # until that process restarted, whatever retrains came after it.
    p = pg_project
    churn.make_batch(5, 1200, drifted=False).to_csv(p.settings.data.landing / "late.csv", index=False)
    stopped: list[str] = []

    def stop_before_deciding(event: str, data: dict[str, Any]) -> None:
        if event == "step" and data.get("step") == "decide" and not stopped:
            own_postgres.stop()  # trained and evaluated; the decision is not recorded yet
            stopped.append(str(data["run_id"]))

    name = retrain_lock_name(p.settings.project)
    lock = LeaseLock(p.store, name, lease_seconds=1).acquire()  # a short lease: its release fails too
    runner = RetrainRunner(p, progress=stop_before_deciding)
    with pytest.raises(StoreError, match="metadata database unavailable"):
        runner.run(RetrainRequest(trigger="manual", force=True), lock)
    own_postgres.start()

    cut = stopped[0]
    assert p.registry.version_by_alias(CHAMPION) == "1"  # nothing promoted without its record
    assert get_run(p.store, cut)["status"] == "running"  # nothing could say otherwise meanwhile
    wait_until(lambda: (s := LeaseLock(p.store, name).current()) is None or s.expired, "the lease to run out")

    outcome = RetrainRunner(p).run(RetrainRequest(trigger="manual", force=True, reason="after the outage"))
    assert outcome.abandoned == [cut]
    run = get_run(p.store, cut)
    assert run["status"] == "abandoned" and run["finished_at"] is not None
    assert [r["status"] for r in list_runs(p.store) if r["status"] == "running"] == []
