"""A person moves the champion while a retrain runs: the retrain's promote stage does not act on a
decision taken against a model that no longer serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from evergreen import control
from evergreen.errors import LeaseLostError, RunStoppedError
from evergreen.examples import churn
from evergreen.pipeline import RetrainRequest, RetrainRunner, lock_name, stages
from evergreen.pipeline.stop import StopFlag
from evergreen.project import Project, open_project
from evergreen.registry import CHAMPION, PREVIOUS, TAG_PREFIX
from evergreen.store.audit import list_actions
from evergreen.store.locks import LeaseLock, models_lock_name
from evergreen.store.runs import get_run, list_runs
from evergreen.store.tables import locks
from tests.support.project import make_project_settings
from tests.support.training import CONSTANT


def _project(root: Path, *candidates: str) -> Project:
    settings = make_project_settings(root, training={"candidates": list(candidates)})
    settings.data.landing.mkdir(parents=True, exist_ok=True)
    return open_project(settings)


def _land_a_batch(project: Project) -> None:
    churn.make_batch(0, 1200, drifted=False).to_csv(project.settings.data.landing / "w0.csv", index=False)


def _assert_abandoned_and_nothing_moved(project: Project) -> None:
    [run] = list_runs(project.store)
    assert run["status"] == "abandoned"
    assert project.registry.aliases() == {}
    assert LeaseLock(project.store, models_lock_name(project.settings.project)).current() is None


def _when_promoting(monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Run ``act`` (a person's action) after the run decided, just before it takes the models lease."""
    real = stages.acquire_models_lease

    def acquire(project: Project, **kw: Any) -> Any:
        act()
        return real(project, **kw)

    monkeypatch.setattr(stages, "acquire_models_lease", acquire)


def test_a_rollback_during_the_run_makes_the_run_decide_again_against_the_champion_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    good = _project(root, "logistic_regression")
    _land_a_batch(good)
    assert RetrainRunner(good).run(RetrainRequest(trigger="manual")).status == "promoted"  # v1
    weak = _project(root, CONSTANT)
    assert RetrainRunner(weak).run(RetrainRequest(trigger="manual", force=True)).status == "rejected"  # v2
    control.promote(weak, "2", actor="alice", reason="try the constant model")  # champion v2, previous v1
    # The next run trains v3 (logistic again) and decides it beats the constant v2; before it moves
    # the alias, bob rolls back to v1, the same logistic model as v3.
    _when_promoting(monkeypatch, lambda: control.rollback(good, actor="bob", reason="v2 is bad"))
    out = RetrainRunner(good).run(RetrainRequest(trigger="manual", force=True))

    assert good.registry.version_by_alias(CHAMPION) == "1"  # bob's rollback stands
    run = get_run(good.store, out.run_id)
    assert (out.status, run["status"], run["candidate_version"]) == ("rejected", "rejected", "3")
    first, second = run["decisions"]
    assert (first["outcome"], first["champion_version"]) == ("promoted", "2")
    assert (second["outcome"], second["champion_version"]) == ("rejected", "1")
    newest = list_actions(good.store)[0]
    assert (newest["actor"], newest["action"], newest["target"]) == ("system", "rejected", "version:3")
    assert newest["before"] == newest["after"] == {"champion": "1"}


def test_a_candidate_promoted_by_hand_during_the_run_is_not_moved_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "p", "logistic_regression")
    _land_a_batch(project)
    _when_promoting(monkeypatch, lambda: control.promote(project, "1", actor="alice", reason="ship it"))
    out = RetrainRunner(project).run(RetrainRequest(trigger="manual"))

    assert out.status == "promoted" and "already made the champion by hand" in out.reason
    assert project.registry.aliases() == {CHAMPION: "1"}  # no PREVIOUS pointing at the champion itself
    assert PREVIOUS not in project.registry.aliases()
    promotes = [a for a in list_actions(project.store) if a["action"] == "promote"]
    assert [(a["actor"], a["target"]) for a in promotes] == [("alice", "version:1")]


def test_a_stop_asked_for_while_waiting_for_the_models_lease_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the promote stage waits for a person's action: the run ends abandoned, before
    the move (the stop is seen after the wait, not just before it), and it does not sit out the wait."""
    project = _project(tmp_path / "p", "logistic_regression")
    _land_a_batch(project)
    flag = StopFlag()
    person = LeaseLock(project.store, models_lock_name(project.settings.project))
    real = stages.acquire_models_lease

    def acquire(p: Project, **kw: Any) -> Any:
        flag.requested.set()  # the signal arrives while a person's action holds the lease
        try:
            return real(p, **kw)
        finally:
            person.release()

    person.acquire()
    monkeypatch.setattr(stages, "acquire_models_lease", acquire)
    # Long enough that sitting it out would show as a failed run (models_busy), not an abandoned one.
    monkeypatch.setattr(stages, "AUTOMATED_WAIT_SECONDS", 1.0)
    with pytest.raises(RunStoppedError):
        RetrainRunner(project, stop=flag).run(RetrainRequest(trigger="manual"))

    _assert_abandoned_and_nothing_moved(project)


def test_the_retrain_lease_lost_during_the_models_lease_wait_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fence proves the retrain lease right before the move: after the wait, not before it."""
    project = _project(tmp_path / "p", "logistic_regression")
    _land_a_batch(project)
    real = stages.acquire_models_lease

    def acquire(p: Project, **kw: Any) -> Any:
        # While this run waited, its heartbeat failed long enough for another process to take over.
        with p.store.begin() as conn:
            conn.execute(
                update(locks)
                .where(locks.c.name == lock_name(p.settings.project))
                .values(holder="elsewhere:1:deadbeef")
            )
        return real(p, **kw)

    monkeypatch.setattr(stages, "acquire_models_lease", acquire)
    with pytest.raises(LeaseLostError):
        RetrainRunner(project).run(RetrainRequest(trigger="manual"))

    _assert_abandoned_and_nothing_moved(project)


def test_a_stop_after_the_candidate_was_promoted_by_hand_still_finishes_the_run_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is left to move: the run must not end abandoned with the champion tagged rejected."""
    project = _project(tmp_path / "p", "logistic_regression")
    _land_a_batch(project)
    flag = StopFlag()

    def person_then_signal() -> None:
        control.promote(project, "1", actor="alice", reason="ship it")
        flag.requested.set()

    _when_promoting(monkeypatch, person_then_signal)
    out = RetrainRunner(project, stop=flag).run(RetrainRequest(trigger="manual"))

    assert out.status == "promoted" and "already made the champion by hand" in out.reason
    assert project.registry.aliases() == {CHAMPION: "1"}
    assert project.registry.get_version("1").tags[TAG_PREFIX + "decision"] == "promoted"


def test_a_run_that_fails_after_its_candidate_was_promoted_by_hand_leaves_the_champion_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "p", "logistic_regression")
    _land_a_batch(project)

    def person_promotes_then_scoring_breaks(*_a: Any, **_k: Any) -> Any:
        control.promote(project, "1", actor="alice", reason="ship it")
        raise RuntimeError("the holdout could not be scored")

    monkeypatch.setattr(stages, "score_on_holdout", person_promotes_then_scoring_breaks)
    with pytest.raises(RuntimeError, match="the holdout could not be scored"):
        RetrainRunner(project).run(RetrainRequest(trigger="manual"))

    info = project.registry.get_version("1")
    assert info.aliases == (CHAMPION,)
    assert info.tags[TAG_PREFIX + "decision"] == "promoted"  # not "rejected" by the failed run
