"""The orchestrator tasks in-process (no orchestrator): the stages of STAGES, one call each, JSON between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.faults import fail_champion_move_once


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVERGREEN_PII_SALT", "steps-salt")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    d = tmp_path / "proj"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "init", str(d)],
        check=True,
        env=dict(os.environ),
        capture_output=True,
    )
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return d / "evergreen.yaml"


def run_all(cfg: str) -> dict[str, Any]:
    """What the adapters do, without an orchestrator: every dict goes through JSON on the way."""
    from evergreen.pipeline import tasks
    from evergreen.triggers import check

    tasks.ingest_task(cfg)
    checked = check.check_triggers(cfg)
    if not check.fires(checked):
        return {"status": "no_trigger", "reason": checked["reason"]}

    def call(stage: Any, ref: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(tasks.run_task(cfg, stage.name, json.loads(json.dumps(ref)))))

    return tasks.run_stages(checked, call)


def test_all_tasks_promote_then_find_nothing_to_do(config: Path) -> None:
    first = run_all(str(config))
    assert (first["status"], first["candidate_version"], first["champion_version"]) == ("promoted", "1", "1")
    assert run_all(str(config)) == {"status": "no_trigger", "reason": "no trigger fired"}


def test_a_failing_stage_fails_the_run_keeps_its_timings_and_closes_its_mlflow_run(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evergreen.pipeline import stages, tasks
    from evergreen.registry import TAG_PREFIX
    from evergreen.store.audit import list_actions
    from evergreen.store.runs import get_run

    cfg = str(config)
    ref = _decided(cfg)

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("registry went away")

    monkeypatch.setattr(stages, "move_champion", boom)
    with pytest.raises(RuntimeError):
        tasks.run_task(cfg, "promote", ref)
    project = tasks.open_config(cfg)
    run = get_run(project.store, ref["evaluated"]["trained"]["dataset"]["run_id"])
    assert run["status"] == "failed" and run["error"].startswith("RuntimeError: registry went away")
    assert {"dataset", "train", "register", "evaluate", "decide"} <= set(run["timings"])
    assert project.registry.version_by_alias("champion") is None
    version = ref["evaluated"]["trained"]["candidate_version"]
    assert project.registry.get_version(version).tags[TAG_PREFIX + "decision"] == "rejected"
    # The retrain's MLflow parent run is closed as failed, not left running.
    parent = project.registry.client.get_run(run["mlflow_run_id"])
    assert parent.info.status == "FAILED"
    [failed] = list_actions(project.store, action="retrain_failed")
    assert failed["target"] == f"run:{run['id']}"


def test_a_promotion_override_changes_the_task_decision(config: Path) -> None:
    from evergreen.control import set_thresholds
    from evergreen.pipeline import tasks
    from evergreen.store.runs import get_run

    first = run_all(str(config))
    assert first["status"] == "promoted"
    project = tasks.open_config(config)
    # A forced retrain on the same data cannot improve by 0.5: rejected, because of the override.
    set_thresholds(project, {"promotion.min_improvement": 0.5}, actor="api:ops")
    order = {"kind": "order", "trigger": "manual", "reason": "forced", "actor": "ops", "force": True}
    ref: dict[str, Any] = order
    for name in ("dataset", "train", "evaluate", "decide", "promote"):
        ref = tasks.run_task(str(config), name, ref)
    assert ref["status"] == "rejected"
    [decision] = get_run(project.store, ref["run_id"])["decisions"]
    assert "0.5" in decision["justification"]


def _decided(cfg: str) -> dict[str, Any]:
    """A run of the tasks up to its decision (promote the first candidate)."""
    from evergreen.pipeline import tasks
    from evergreen.triggers import check

    tasks.ingest_task(cfg)
    ref = check.check_triggers(cfg)
    for name in ("dataset", "train", "evaluate", "decide"):
        ref = tasks.run_task(cfg, name, ref)
    assert ref["kind"] == "decided" and ref["outcome"] == "promoted"
    return ref


def _promote_fails_once(
    cfg: str, monkeypatch: pytest.MonkeyPatch, exc: Exception, *, final_attempt: bool
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Decide, then a promote task whose move raises ``exc``: (project, the run's row, the ref)."""
    from evergreen.pipeline import tasks
    from evergreen.store.runs import get_run

    ref = _decided(cfg)
    fail_champion_move_once(monkeypatch, exc)
    with pytest.raises(type(exc)):
        tasks.run_task(cfg, "promote", ref, final_attempt=final_attempt)
    project = tasks.open_config(cfg)
    return project, get_run(project.store, ref["evaluated"]["trained"]["dataset"]["run_id"]), ref


def test_an_orchestrator_retry_after_a_transient_failure_carries_the_same_run_on(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow unreachable while promoting, with retries left: the run is not ended (no failure
    # recorded, no alert, candidate not tagged rejected); the retry promotes within the same run.
    from evergreen.errors import RegistryError
    from evergreen.pipeline import tasks
    from evergreen.store.audit import list_actions
    from evergreen.store.runs import list_runs

    cfg = str(config)
    project, run, ref = _promote_fails_once(
        cfg, monkeypatch, RegistryError("mlflow unreachable"), final_attempt=False
    )
    assert run["status"] == "running"
    assert list_actions(project.store, action="retrain_failed") == []

    finished = tasks.run_task(cfg, "promote", ref, final_attempt=True)  # the orchestrator's retry
    assert (finished["status"], finished["run_id"]) == ("promoted", run["id"])
    assert [r["status"] for r in list_runs(project.store)] == ["promoted"]
    assert project.registry.version_by_alias("champion") == ref["evaluated"]["trained"]["candidate_version"]


def test_a_retry_of_a_stage_of_a_failed_run_moves_nothing(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deterministic failure ends the run at once, retries left or not (trying again cannot help);
    # the orchestrator's retry of the stage is then refused: the champion does not move for a run
    # recorded failed, whose candidate is tagged rejected.
    from evergreen.errors import RunEndedError
    from evergreen.pipeline import tasks
    from evergreen.registry import TAG_PREFIX

    cfg = str(config)
    project, run, ref = _promote_fails_once(cfg, monkeypatch, RuntimeError("a bug"), final_attempt=False)
    with pytest.raises(RunEndedError, match="has already ended \\(failed\\): its promote stage"):
        tasks.run_task(cfg, "promote", ref, final_attempt=True)
    assert run["status"] == "failed" and run["error"].startswith("RuntimeError: a bug")
    assert project.registry.version_by_alias("champion") is None
    version = ref["evaluated"]["trained"]["candidate_version"]
    assert project.registry.get_version(version).tags[TAG_PREFIX + "decision"] == "rejected"


def test_a_transient_failure_on_the_last_attempt_fails_the_run(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evergreen.errors import RegistryError
    from evergreen.store.audit import list_actions

    project, run, _ = _promote_fails_once(
        str(config), monkeypatch, RegistryError("mlflow unreachable"), final_attempt=True
    )
    assert run["status"] == "failed" and run["error"].startswith("registry_error: mlflow unreachable")
    [failed] = list_actions(project.store, action="retrain_failed")
    assert failed["after"]["transient"] is True


def test_a_stage_finding_the_lock_held_waits_for_the_retry_then_fails_the_run(config: Path) -> None:
    # Another retrain holds the project's lock when the promote task starts: with retries left that
    # is no failure of this run (the other one will end); on the last attempt the run ends failed
    # instead of staying "running" with nobody to carry it on.
    from evergreen.errors import LockHeldError
    from evergreen.pipeline import tasks
    from evergreen.store.audit import list_actions
    from evergreen.store.locks import LeaseLock, retrain_lock_name
    from evergreen.store.runs import get_run

    cfg = str(config)
    ref = _decided(cfg)
    project = tasks.open_config(cfg)
    run_id = ref["evaluated"]["trained"]["dataset"]["run_id"]
    _lease_runs_out(project)  # the run's parked lock expired and another retrain took it
    other = LeaseLock(project.store, retrain_lock_name(project.settings.project)).acquire()
    try:
        assert tasks.retryable(LockHeldError("held"))
        with pytest.raises(LockHeldError):
            tasks.run_task(cfg, "promote", ref, final_attempt=False)
        assert get_run(project.store, run_id)["status"] == "running"
        assert list_actions(project.store, action="retrain_failed") == []
        with pytest.raises(LockHeldError):
            tasks.run_task(cfg, "promote", ref, final_attempt=True)
    finally:
        other.release()
    run = get_run(project.store, run_id)
    assert run["status"] == "failed" and run["error"].startswith("lock_held: the lock 'retrain:")
    assert project.registry.version_by_alias("champion") is None


def _lease_runs_out(project: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from evergreen.store.engine import utcnow
    from evergreen.store.tables import locks

    with project.store.begin() as conn:
        conn.execute(update(locks).values(expires_at=utcnow() - timedelta(seconds=1)))


def _lock_row(project: Any) -> Any:
    from evergreen.store.locks import LeaseLock, retrain_lock_name

    return LeaseLock(project.store, retrain_lock_name(project.settings.project)).current()


def test_between_two_tasks_the_run_holds_the_lock_and_a_person_retrain_is_refused(config: Path) -> None:
    # The process that ran the decide task has exited (an orchestrator's task); before this, the
    # lock was free until the promote task, so a person's retrain ran in the gap and marked the
    # orchestrated run abandoned (its process was gone), and the promote task then failed.
    from evergreen.control import request_retrain
    from evergreen.errors import LockHeldError
    from evergreen.pipeline import tasks
    from evergreen.store.runs import get_run, list_runs

    cfg = str(config)
    ref = _decided(cfg)
    run_id = ref["evaluated"]["trained"]["dataset"]["run_id"]
    project = tasks.open_config(cfg)
    held = _lock_row(project)
    assert (held.holder, held.run_id, held.pid, held.host) == (f"run:{run_id}", run_id, None, None)
    with pytest.raises(LockHeldError, match=f"run {run_id}"):
        request_retrain(project, actor="cli:ops", force=True, wait=True)
    assert [r["id"] for r in list_runs(project.store)] == [run_id]
    assert get_run(project.store, run_id)["status"] == "running"

    finished = tasks.run_task(cfg, "promote", ref)
    assert (finished["status"], finished["run_id"]) == ("promoted", run_id)
    assert _lock_row(project) is None  # the run has ended: its lock is free
    again = request_retrain(project, actor="cli:ops", force=True, wait=True)
    assert again.outcome is not None and again.outcome.status in ("promoted", "rejected")


def test_a_parked_lock_whose_orchestrator_never_came_back_frees_the_project(config: Path) -> None:
    from evergreen.control import request_retrain
    from evergreen.errors import RunEndedError
    from evergreen.pipeline import tasks
    from evergreen.store.runs import get_run

    cfg = str(config)
    ref = _decided(cfg)
    run_id = ref["evaluated"]["trained"]["dataset"]["run_id"]
    project = tasks.open_config(cfg)
    _lease_runs_out(project)
    ticket = request_retrain(project, actor="cli:ops", force=True, wait=True)
    assert ticket.outcome is not None and ticket.outcome.abandoned == [run_id]
    assert get_run(project.store, run_id)["status"] == "abandoned"
    with pytest.raises(RunEndedError, match="has already ended \\(abandoned\\)"):
        tasks.run_task(cfg, "promote", ref)
    assert _lock_row(project) is None


def test_a_retry_of_the_first_task_opens_a_run_of_its_own(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first task opens the run; a retryable failure in it parked the run's lock, and the retry
    # (the same order, without the run's id) then found the lock held by that run: LockHeldError on
    # every retry, the run left "running".
    from evergreen.errors import RegistryError
    from evergreen.pipeline import stages, tasks
    from evergreen.store.runs import list_runs
    from evergreen.triggers import check

    cfg = str(config)
    tasks.ingest_task(cfg)
    order = check.check_triggers(cfg)
    real = stages.assemble_dataset
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RegistryError("mlflow unreachable")
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "assemble_dataset", flaky)
    with pytest.raises(RegistryError):
        tasks.run_task(cfg, "dataset", order, final_attempt=False)
    project = tasks.open_config(cfg)
    [first] = list_runs(project.store)
    assert first["status"] == "abandoned" and "retried as a new run" in first["error"]
    assert _lock_row(project) is None
    ref = tasks.run_task(cfg, "dataset", order)  # the orchestrator's retry
    for name in ("train", "evaluate", "decide", "promote"):
        ref = tasks.run_task(cfg, name, ref)
    assert ref["status"] == "promoted" and ref["run_id"] != first["id"]
