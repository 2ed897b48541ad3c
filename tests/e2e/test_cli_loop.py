"""The core loop through the real CLI: init → ingest → retrain → decide → promote, and its edges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text

from evergreen.examples import churn
from tests.support.cli import Runner, cli_env, set_config


def _db(project_dir: Path) -> Engine:
    return create_engine(f"sqlite:///{project_dir}/.evergreen/evergreen.db")


def _start(project_dir: Path) -> datetime:
    """The Monday on which ``evergreen init``'s example stream starts."""
    path = next((project_dir / "landing").glob("**/customers-week00.csv"))  # moved once ingested
    first = pd.read_csv(path, usecols=["event_time"])
    ts = pd.Timestamp(first["event_time"].min()).to_pydatetime()
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _drop(project_dir: Path, index: int, start: datetime, *, drifted: bool = False, rows: int = 1500) -> None:
    frame = churn.make_batch(index, rows, drifted=drifted, start=start)
    frame.to_csv(project_dir / "landing" / f"w{index:02d}.csv", index=False)


def test_first_model_is_promoted_then_unchanged_data_is_skipped(run_cli: Runner, project_dir: Path):
    res = run_cli("retrain", "--reason", "first model", "--json")
    assert res.code == 0, res.stderr
    # Nothing went wrong, so nothing on stderr: MLflow's INFO lines ("Creating initial MLflow
    # database tables...") and its integer-column hint (with its source line) used to be there.
    assert res.stderr == ""
    out = res.json()
    assert out["status"] == "promoted" and out["candidate_version"] == "1" and out["champion_version"] is None
    assert out["data_size"] == 3000 and len(out["ingested"]) == 2
    assert {c["name"] for c in out["candidates"]} == {"logistic_regression", "hist_gradient_boosting"}
    assert "first model" in out["reason"]

    again = run_cli("retrain", "--json")
    assert again.code == 0
    assert again.json()["status"] == "skipped"
    assert "is the one champion v1 was trained on" in again.json()["reason"]

    # Any MLflow client can load and serve what we registered.
    mlflow.set_tracking_uri(f"sqlite:///{project_dir}/.evergreen/mlflow.db")
    try:
        model = mlflow.pyfunc.load_model("models:/churn@champion")
        frame = churn.make_batch(3, 20, drifted=False).drop(
            columns=["churned", "email", "customer_id", "event_time"]
        )
        assert set(model.predict(frame)) <= {"yes", "no"}
        mv = mlflow.MlflowClient().get_model_version("churn", "1")
        assert mv.tags["evergreen.decision"] == "promoted" and mv.tags["evergreen.trigger"] == "manual"
        assert mv.tags["evergreen.dataset_version"] == out["dataset_version"]
        run = mlflow.get_run(mv.run_id)
        assert run.data.tags["mlflow.parentRunId"]
        assert {
            "f1_macro",
            "accuracy",
            "roc_auc",
            "log_loss",
            "training_time_seconds",
            "data_size",
            "model_size_mb",
        } <= set(run.data.metrics)
        assert run.inputs.dataset_inputs[0].dataset.digest == out["dataset_version"][:36]
    finally:
        mlflow.set_tracking_uri(None)

    status = run_cli("status", "--json").json()
    assert status["champion"]["version"] == "1" and status["batches"]["accepted"] == 2


def test_bad_batch_exits_2_and_changes_nothing(run_cli: Runner, project_dir: Path):
    assert run_cli("retrain").code == 0
    with _db(project_dir).connect() as c:
        before = c.execute(text("select count(*) from batches where status='accepted'")).scalar()
    bad = project_dir / "broken.csv"
    churn.bad_batch(4).to_csv(bad, index=False)
    res = run_cli("ingest", str(bad))
    assert res.code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "broken.csv" in lines[0] and "tenure" in lines[0]
    with _db(project_dir).connect() as c:
        assert c.execute(text("select count(*) from batches where status='accepted'")).scalar() == before
        reason = c.execute(text("select reason from batches where status='quarantined'")).scalar()
    assert reason == "wrong_type"
    assert run_cli("status", "--json").json()["champion"]["version"] == "1"
    assert list((project_dir / ".evergreen" / "quarantine").glob("*broken.csv.reason.json"))


def test_changed_data_promotes_and_rollback_is_audited(run_cli: Runner, project_dir: Path):
    start = _start(project_dir)
    assert run_cli("retrain", "--json").json()["status"] == "promoted"
    for i in range(2, 6):
        _drop(project_dir, i, start, drifted=True)
    as_of = churn.batch_end(5, start).isoformat()
    res = run_cli("retrain", "--json", "--trigger", "new_data", "--as-of", as_of)
    out = res.json()
    assert out["status"] == "promoted", out["reason"]
    assert out["champion_version"] == "1" and out["candidate_version"] == "2"
    assert out["candidate_metrics"]["f1_macro"] > out["champion_metrics"]["f1_macro"]
    assert out["decision"]["ci_low"] > 0

    rb = run_cli("rollback", "--reason", "bad complaints", "--actor", "alice")
    assert rb.code == 0 and "champion is now v1" in rb.stdout
    status = run_cli("status", "--json").json()
    assert status["champion"]["version"] == "1" and status["previous"] == "2"
    with _db(project_dir).connect() as c:
        row = c.execute(
            # The newest human action (the alerts that follow it are audited too, as "system").
            text(
                "select actor, action, reason from alert_actions where actor != 'system' "
                "order by id desc limit 1"
            )
        ).one()
    assert tuple(row) == ("alice", "rollback", "bad complaints")
    assert run_cli("promote", "2", "--actor", "bob").code == 0
    assert run_cli("status", "--json").json()["champion"]["version"] == "2"
    assert run_cli("promote", "2").code == 1  # already the champion: a conflict, said in one line
    assert run_cli("promote", "77").code == 2


def test_approval_flow(run_cli: Runner, project_dir: Path):
    set_config(project_dir, "promotion", require_approval=True)
    out = run_cli("retrain", "--json").json()
    assert out["status"] == "pending_approval"
    assert run_cli("status", "--json").json()["champion"] is None
    ok = run_cli("approve", out["run_id"], "--reason", "looks good", "--actor", "carol")
    assert ok.code == 0, ok.stderr
    assert run_cli("status", "--json").json()["champion"]["version"] == "1"
    assert run_cli("approve", out["run_id"]).code == 1  # no longer pending

    _drop(project_dir, 2, _start(project_dir) - timedelta(weeks=1))
    second = run_cli("retrain", "--json", "--force").json()
    if second["status"] == "pending_approval":
        rej = run_cli("reject", second["run_id"], "--reason", "not now")
        assert rej.code == 0
        assert run_cli("runs", "--json").json()[0]["status"] == "rejected"
    assert run_cli("status", "--json").json()["champion"]["version"] == "1"


def test_failed_candidate_and_failed_run_leave_the_champion(run_cli: Runner, project_dir: Path):
    assert run_cli("retrain").code == 0
    set_config(project_dir, "training", candidates=["tests.support.candidates:broken", "logistic_regression"])
    _drop(project_dir, 2, _start(project_dir) - timedelta(weeks=2))
    out = run_cli("retrain", "--json").json()
    failed = [c for c in out["candidates"] if c["status"] == "failed"]
    assert len(failed) == 1 and "always fails" in failed[0]["error"]

    set_config(project_dir, "training", candidates=["tests.support.candidates:broken"])
    _drop(project_dir, 3, _start(project_dir) - timedelta(weeks=3))
    res = run_cli("retrain")
    assert res.code == 1 and "error:" in res.stderr
    runs = run_cli("runs", "--json").json()
    assert runs[0]["status"] == "failed"
    assert run_cli("status", "--json").json()["champion"]["version"] in {"1", "2"}


def test_sigkill_mid_training_is_marked_abandoned(run_cli: Runner, project_dir: Path):
    assert run_cli("retrain").code == 0
    set_config(project_dir, "training", candidates=["tests.support.candidates:slow"])
    _drop(project_dir, 2, _start(project_dir) - timedelta(weeks=2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "evergreen", "retrain"],
        cwd=project_dir,
        env=cli_env({"EVERGREEN_TEST_SLOW_FIT": "120"}),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        step = None
        while time.monotonic() < deadline:
            with _db(project_dir).connect() as c:
                step = c.execute(text("select step from pipeline_runs where status='running'")).scalar()
            if step == "train":
                break
            time.sleep(0.3)
        assert step == "train"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    set_config(project_dir, "training", candidates=["logistic_regression"])
    out = run_cli("retrain", "--json").json()
    assert len(out["abandoned"]) == 1
    runs = {r["id"]: r for r in run_cli("runs", "--json").json()}
    assert runs[out["abandoned"][0]]["status"] == "abandoned"
    assert out["champion_version"] == "1"


@pytest.mark.parametrize("args", [["retrain", "--as-of", "yesterday"], ["init", "--example", "nope", "x"]])
def test_bad_arguments_exit_2_with_one_line(run_cli: Runner, args: list[str]):
    res = run_cli(*args)
    assert res.code == 2
    assert len([ln for ln in res.stderr.splitlines() if ln.startswith("error:")]) == 1


def test_bad_config_names_the_key(run_cli: Runner, project_dir: Path):
    set_config(project_dir, "promotion", min_improvement="lots")
    res = run_cli("status")
    assert res.code == 2 and "promotion.min_improvement" in res.stderr


def test_frames_are_pandas(project_dir: Path):
    # The example set that init ships is a realistic frame: numeric, categorical, text, PII, time.
    frame = pd.read_csv(next((project_dir / "landing").glob("*.csv")))
    assert {"tenure", "plan", "last_ticket", "email", "event_time", "churned"} <= set(frame.columns)


def test_retrain_is_queued_when_a_scheduler_runs(run_cli: Runner, project_dir: Path):
    from evergreen.config import load_settings
    from evergreen.store import open_store
    from evergreen.store.locks import LeaseLock
    from evergreen.store.requests import queued_requests, scheduler_lock_name

    settings = load_settings(project_dir)
    store = open_store(settings.storage.database_url, settings.project)
    lease = LeaseLock(store, scheduler_lock_name(settings.project)).acquire()  # as `evergreen scheduler` does
    try:
        res = run_cli("retrain", "--reason", "please", "--json")
        assert res.code == 0, res.stderr
        assert res.json()["queued"] is True
        assert [r.reason for r in queued_requests(store)] == ["please"]
    finally:
        lease.release()
    assert run_cli("runs", "--json").json() == []  # nothing ran behind the scheduler's back
