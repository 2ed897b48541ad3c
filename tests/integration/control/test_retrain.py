"""``control.request_retrain``: queue for a running scheduler or run, decided in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from evergreen.control import request_retrain
from evergreen.errors import LockHeldError
from evergreen.project import Project, open_project
from evergreen.store.audit import list_actions
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.requests import get_request, queued_requests, scheduler_lock_name
from evergreen.store.runs import list_runs
from tests.support.project import make_project_settings


@pytest.fixture
def empty_project(tmp_path: Path) -> Project:
    """No data at all: a retrain that runs skips at once ("no labelled data")."""
    settings = make_project_settings(tmp_path / "p")
    settings.data.landing.mkdir(parents=True)
    return open_project(settings)


def test_with_a_scheduler_a_manual_request_is_queued_and_audited(empty_project: Project) -> None:
    store = empty_project.store
    with LeaseLock(store, scheduler_lock_name(store.project)):
        ticket = request_retrain(
            empty_project, actor="api:ann", reason="labels fixed", force=True, wait=False
        )
    assert ticket.queued and ticket.outcome is None and ticket.thread is None
    assert ticket.request_id is not None and ticket.request_id in ticket.message
    [queued] = queued_requests(store)
    assert (queued.id, queued.actor, queued.reason, queued.force) == (
        ticket.request_id,
        "api:ann",
        "labels fixed",
        True,
    )
    [audit] = list_actions(store, action="retrain_requested")
    assert (audit["actor"], audit["target"]) == ("api:ann", f"request:{ticket.request_id}")
    assert list_runs(store) == []


def test_as_of_or_another_trigger_never_queues(empty_project: Project) -> None:
    store = empty_project.store
    with LeaseLock(store, scheduler_lock_name(store.project)):
        as_of = request_retrain(
            empty_project, actor="cli:bo", as_of=datetime(2026, 3, 1, tzinfo=UTC), wait=True
        )
        drift = request_retrain(empty_project, actor="cli:bo", trigger="drift", wait=True)
    for ticket in (as_of, drift):
        assert not ticket.queued and ticket.outcome is not None
        assert ticket.outcome.status == "skipped" and ticket.message.startswith("skipped: no labelled data")
    assert queued_requests(store) == ()
    assert [r["trigger"] for r in list_runs(store)] == ["drift", "manual"]


def test_in_the_background_a_held_lock_is_a_conflict_naming_the_run(empty_project: Project) -> None:
    store = empty_project.store
    other = LeaseLock(store, retrain_lock_name(store.project), run_id="r-busy").acquire()
    try:
        with pytest.raises(LockHeldError) as err:
            request_retrain(empty_project, actor="api:ann", reason="now", wait=False)
        assert err.value.code == "lock_held" and err.value.details == {"run_id": "r-busy"}
    finally:
        other.release()
    ticket = request_retrain(empty_project, actor="api:ann", reason="now", wait=False)
    assert not ticket.queued and ticket.thread is not None
    ticket.thread.join(60)
    [run] = list_runs(store)
    assert (run["actor"], run["reason"], run["status"]) == ("api:ann", "now", "skipped")
    [audit] = list_actions(store, action="retrain_requested")
    assert audit["target"] == "retrain" and audit["after"] == {"force": False, "queued": False}
    assert get_request(store, "nope") is None


def test_a_second_request_before_the_first_started_is_refused_not_audited(empty_project: Project) -> None:
    store = empty_project.store
    first = request_retrain(empty_project, actor="api:ann", reason="double", wait=False)
    # A double click: the second arrives before the first's thread has begun its run.
    with pytest.raises(LockHeldError, match="a retrain is already running"):
        request_retrain(empty_project, actor="api:ann", reason="double", wait=False)
    assert first.thread is not None
    first.thread.join(60)
    assert [r["status"] for r in list_runs(store)] == ["skipped"]
    assert len(list_actions(store, action="retrain_requested")) == 1
    assert LeaseLock(store, retrain_lock_name(store.project)).current() is None  # released at the end


def test_a_retrain_run_in_the_foreground_is_audited_under_its_actor(empty_project: Project) -> None:
    # The CLI's retrain (wait=True) left no row naming who asked, and a run waiting for approval
    # raised its alert only at the next unrelated action.
    store = empty_project.store
    other = LeaseLock(store, retrain_lock_name(store.project), run_id="r-busy").acquire()
    try:
        with pytest.raises(LockHeldError, match=r"a retrain is already running \(run r-busy\)"):
            request_retrain(empty_project, actor="cli:erin", reason="now", wait=True)
    finally:
        other.release()
    assert list_actions(store, action="retrain_requested") == []  # refused: nothing happened
    ticket = request_retrain(empty_project, actor="cli:erin", reason="labels fixed", wait=True)
    assert ticket.outcome is not None and ticket.outcome.status == "skipped"
    [audit] = list_actions(store, action="retrain_requested")
    assert (audit["actor"], audit["reason"], audit["after"]) == (
        "cli:erin",
        "labels fixed",
        {"force": False, "queued": False},
    )
    assert LeaseLock(store, retrain_lock_name(store.project)).current() is None
