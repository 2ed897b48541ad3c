"""Stopping the scheduler while a candidate is being fitted: the fit is killed, the run abandoned."""

from __future__ import annotations

import multiprocessing
import signal
from pathlib import Path
from typing import Any

import pytest

from evergreen.errors import LockHeldError
from evergreen.examples import churn
from evergreen.pipeline import lock_name
from evergreen.project import Project, open_project
from evergreen.store.locks import LeaseLock
from evergreen.store.requests import scheduler_lock_name
from evergreen.store.runs import list_runs
from evergreen.triggers.scheduler import Scheduler
from tests.support.project import make_project_settings
from tests.support.serving import wait_until
from tests.support.training import STALLED


def _project_with_a_batch(tmp_path: Path, **sections: Any) -> Project:
    """A project whose first pass fires new_data on one landed batch (no file events, no monitoring)."""
    settings = make_project_settings(
        tmp_path / "p",
        triggers={"settle_seconds": 0, "watch_landing": False},
        monitoring={"schedule": None},
        **sections,
    )
    settings.data.landing.mkdir(parents=True)
    churn.make_batch(0, 1000, drifted=False).to_csv(settings.data.landing / "week00.csv", index=False)
    return open_project(settings)


def test_stopping_a_threaded_scheduler_mid_fit_kills_the_fit_and_abandons_the_run(tmp_path: Path) -> None:
    """``serve --scheduler`` runs the loop in threads: no signal handler there, only ``stop()``.

    The fit below would take an hour; before, ``stop()`` gave up joining the loop's thread after its
    timeout and left the run, the lock and the forked child behind.
    """
    project = _project_with_a_batch(tmp_path, training={"candidates": [STALLED], "timeout_minutes": 120})
    sched = Scheduler(project)
    try:
        sched.start()
        wait_until(multiprocessing.active_children, "the candidate's fit to start", timeout=180)
        threads = list(sched._threads)
        sched.stop(timeout=60)
        assert [t.name for t in threads if t.is_alive()] == []
        [run] = list_runs(project.store)
        assert (run["status"], run["step"]) == ("abandoned", "train")
        assert "the candidates' fitting was cut short" in run["error"]
        assert LeaseLock(project.store, lock_name(project.settings.project)).current() is None
        assert multiprocessing.active_children() == []
    finally:
        sched.stop()
        project.close()


def test_a_stop_asked_for_during_a_pass_starts_no_retrain(tmp_path: Path) -> None:
    """SIGTERM while the pass ingests or monitors: the triggers still fire, but no run is started
    only to be abandoned at its first stage (an abandoned run reads as a failing retrain to the
    alerts); the firings stay due for the next scheduler."""
    project = _project_with_a_batch(tmp_path)
    sched = Scheduler(project)
    try:
        sched.open()
        sched.stop_flag.requested.set()  # what the signal handler does, here before the pass
        report = sched.tick()
        assert [r.status for r in report.ingested] == ["accepted"]
        assert report.evaluation is not None and report.evaluation.firings
        assert report.attempt is None
        assert list_runs(project.store) == []
    finally:
        sched.close()
        project.close()


def test_a_scheduler_that_cannot_start_puts_the_signal_handlers_back(tmp_path: Path) -> None:
    # Another scheduler holds the project's scheduler lease: run_forever fails at its start. Before,
    # the flag-only handlers it had installed stayed, so the process then ignored SIGTERM and Ctrl-C.
    settings = make_project_settings(tmp_path / "p", triggers={"watch_landing": False})
    project = open_project(settings)
    holder = LeaseLock(project.store, scheduler_lock_name(settings.project)).acquire()
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with pytest.raises(LockHeldError):
            Scheduler(project).run_forever()
        assert {s: signal.getsignal(s) for s in before} == before
    finally:
        holder.release()
        project.close()
