"""``evergreen scheduler`` as a real process: every trigger once, single flight, SIGTERM, kill -9."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from sqlalchemy import Engine, create_engine, insert, inspect, text

from evergreen.config import load_settings
from evergreen.examples import churn
from evergreen.project import open_project
from evergreen.store.requests import enqueue_retrain
from evergreen.store.tables import drift_reports
from tests.support.cli import Runner, cli_env, set_config

WAIT = 240.0  # generous: a deadline for a state to appear, never a performance assertion


def _db(project_dir: Path) -> Engine:
    return create_engine(f"sqlite:///{project_dir}/.evergreen/evergreen.db")


def _runs(project_dir: Path) -> list[dict[str, Any]]:
    if not (project_dir / ".evergreen" / "evergreen.db").exists():
        return []  # the scheduler has not created its database yet
    with _db(project_dir).connect() as c:
        if not inspect(c).has_table("pipeline_runs"):
            return []
        rows = (
            c.execute(
                text(
                    "select id, trigger, status, step, reason, started_at, finished_at from pipeline_runs "
                    "order by started_at"
                )
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def _wait(what: str, cond: Callable[[], Any], proc: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        assert proc is None or proc.poll() is None, (
            f"scheduler exited with {proc.returncode} waiting for {what}"
        )
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _finished(project_dir: Path, n: int) -> Callable[[], list[dict[str, Any]] | None]:
    def cond() -> list[dict[str, Any]] | None:
        runs = _runs(project_dir)
        return runs if len(runs) >= n and all(r["status"] != "running" for r in runs) else None

    return cond


def _start_scheduler(project_dir: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "evergreen", "scheduler"],
        cwd=project_dir,
        env=cli_env(extra_env),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _example_start(project_dir: Path) -> datetime:
    path = next((project_dir / "landing").glob("**/customers-week00.csv"))  # moved once ingested
    ts = pd.Timestamp(pd.read_csv(path, usecols=["event_time"])["event_time"].min()).to_pydatetime()
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _report(project_dir: Path, share: float, details: dict[str, Any] | None = None) -> None:
    with _db(project_dir).begin() as c:
        c.execute(
            insert(drift_reports).values(
                project="churn",
                report_date=datetime.now(UTC),
                window="7d",
                model_version="1",
                data_drift_score=share,
                drift_detected=share >= 0.3,
                details=details or {},
            )
        )


def _fast_loop(project_dir: Path, **triggers: Any) -> None:
    set_config(
        project_dir,
        "triggers",
        schedule=None,
        cooldown_minutes=0,
        scan_interval_seconds=0.5,
        settle_seconds=0.1,
        **triggers,
    )
    set_config(project_dir, "monitoring", schedule=None)


def test_each_trigger_fires_once_and_never_two_retrains_at_once(project_dir: Path):
    _fast_loop(project_dir, performance={"metric": "f1_macro", "min": 0.75}, drift={"share": 0.3})
    start = _example_start(project_dir)
    proc = _start_scheduler(project_dir)
    try:
        _wait("the first model", _finished(project_dir, 1), proc)
        churn.make_batch(2, 1200, drifted=False, start=start).to_csv(
            project_dir / "landing" / "w02.csv", index=False
        )
        _wait("a run on the new file", _finished(project_dir, 2), proc)
        _report(project_dir, 0.6)
        _wait("a run on drift", _finished(project_dir, 3), proc)
        _report(
            project_dir, 0.0, {"performance": {"metric": "f1_macro", "realised": 0.61, "estimated": None}}
        )
        _wait("a run on bad labels", _finished(project_dir, 4), proc)
        project = open_project(load_settings(project_dir))
        enqueue_retrain(project.store, "operator asked", "api:dana")
        runs = _wait("a manual run", _finished(project_dir, 5), proc)
        time.sleep(1.5)  # three more scan intervals: nothing else may fire
        runs = _runs(project_dir)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT)
    assert code == 0
    assert [r["trigger"] for r in runs] == ["new_data", "new_data", "drift", "performance", "manual"]
    assert runs[0]["status"] == "promoted"
    assert runs[1]["reason"].startswith(
        "new data: 1200 labelled rows since the champion's dataset (champion v1)"
    )
    assert runs[2]["reason"].startswith("drift: 60.0% of columns drifted")
    assert runs[3]["reason"].startswith("performance: live f1_macro 0.6100 is below the minimum 0.7500")
    assert runs[4]["reason"].endswith("by api:dana: operator asked")
    for before, after in itertools.pairwise(runs):
        assert after["started_at"] >= before["finished_at"]  # single flight
    with _db(project_dir).connect() as c:
        assert c.execute(text("select count(*) from locks")).scalar() == 0


def test_sigkill_mid_training_then_restart(run_cli: Runner, project_dir: Path):
    assert run_cli("retrain").code == 0
    start = _example_start(project_dir)
    _fast_loop(project_dir)
    set_config(project_dir, "training", candidates=["tests.support.candidates:slow"])
    churn.make_batch(2, 1500, drifted=False, start=start).to_csv(
        project_dir / "landing" / "w02.csv", index=False
    )
    proc = _start_scheduler(project_dir, {"EVERGREEN_TEST_SLOW_FIT": "120"})
    try:

        def training() -> str | None:
            runs = [r for r in _runs(project_dir) if r["status"] == "running" and r["step"] == "train"]
            return runs[0]["id"] if runs else None

        killed = _wait("training to start", training, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    set_config(project_dir, "training", candidates=["logistic_regression"])
    status = run_cli("status", "--json").json()
    assert status["champion"]["version"] == "1"
    mlflow.set_tracking_uri(f"sqlite:///{project_dir}/.evergreen/mlflow.db")
    try:
        model = mlflow.pyfunc.load_model("models:/churn@champion")
        frame = churn.make_batch(3, 5, drifted=False).drop(
            columns=["churned", "email", "customer_id", "event_time"]
        )
        assert len(model.predict(frame)) == 5
    finally:
        mlflow.set_tracking_uri(None)

    res = run_cli("scheduler", "--once", "--json")
    assert res.code == 0, res.stderr
    tick = res.json()
    assert tick["fired"] == ["new_data"] and tick["attempt"] == "ran"
    runs = {r["id"]: r for r in run_cli("runs", "--json").json()}
    assert runs[killed]["status"] == "abandoned"
    assert runs[tick["run_id"]]["trigger"] == "new_data"
    assert runs[tick["run_id"]]["status"] in ("promoted", "rejected")
    assert len([r for r in runs.values() if r["status"] == "running"]) == 0


def test_sigterm_mid_training_abandons_the_run_and_releases_the_lock(run_cli: Runner, project_dir: Path):
    _fast_loop(project_dir)
    set_config(project_dir, "training", candidates=["tests.support.candidates:slow"])
    proc = _start_scheduler(project_dir, {"EVERGREEN_TEST_SLOW_FIT": "120"})
    try:
        run_id = _wait(
            "training to start",
            lambda: next(
                (r["id"] for r in _runs(project_dir) if r["step"] == "train" and r["status"] == "running"),
                None,
            ),
            proc,
        )
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0
    [run] = [r for r in _runs(project_dir) if r["id"] == run_id]
    assert run["status"] == "abandoned"
    with _db(project_dir).connect() as c:
        assert c.execute(text("select count(*) from locks")).scalar() == 0


def test_sigterm_while_registering_ends_the_run_between_stages(run_cli: Runner, project_dir: Path):
    """SIGTERM outside the fitting only sets a flag: the stage running finishes (the registration
    here), the run stops before the next stage as abandoned, the champion untouched, exit 0."""
    assert run_cli("retrain").code == 0  # v1 is the champion
    start = _example_start(project_dir)
    _fast_loop(project_dir)
    set_config(
        project_dir,
        "training",
        candidates=["tests.support.candidates:slow_predictor"],
        trusted_types=["tests.support.candidates.SlowPredictor"],
    )
    churn.make_batch(2, 1500, drifted=False, start=start).to_csv(
        project_dir / "landing" / "w02.csv", index=False
    )
    proc = _start_scheduler(project_dir, {"EVERGREEN_TEST_SLOW_PREDICT": "8"})
    try:
        run_id = _wait(
            "the registration to start",
            lambda: next(
                (r["id"] for r in _runs(project_dir) if r["step"] == "register" and r["status"] == "running"),
                None,
            ),
            proc,
        )
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0
    with _db(project_dir).connect() as c:
        run = (
            c.execute(
                text("select status, step, error, candidate_version from pipeline_runs where id = :i"),
                {"i": run_id},
            )
            .mappings()
            .one()
        )
        assert c.execute(text("select count(*) from locks")).scalar() == 0
    # The registration finished (v2 exists, rejected by the stop); the run ended before evaluating.
    assert run["status"] == "abandoned" and run["candidate_version"] == "2", dict(run)
    assert "run_stopped" in run["error"] and "before the evaluate stage" in run["error"]
    status = run_cli("status", "--json").json()
    assert status["champion"]["version"] == "1"
