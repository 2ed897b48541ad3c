"""Shutting the server down while a retrain it started in the background is fitting its candidates."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from fastapi.testclient import TestClient

from evergreen.examples import churn
from evergreen.pipeline import lock_name
from evergreen.project import open_project
from evergreen.serving.app import create_app
from evergreen.store.locks import LeaseLock
from evergreen.store.runs import list_runs
from tests.support.project import make_project_settings
from tests.support.serving import wait_until
from tests.support.training import STALLED


def test_shutdown_stops_a_background_retrain_and_records_it_abandoned(tmp_path: Path) -> None:
    # POST /api/retrain without a scheduler runs on a thread of this server. Before, shutdown did not
    # wait for it: the process exit cut it mid-stage and the run stayed "running" (its lock held
    # until the lease ran out) until a later retrain marked it abandoned.
    settings = make_project_settings(
        tmp_path / "p",
        training={"candidates": [STALLED], "timeout_minutes": 120},
        monitoring={"schedule": None},
    )
    settings.data.landing.mkdir(parents=True)
    churn.make_batch(0, 1000, drifted=False).to_csv(settings.data.landing / "week00.csv", index=False)
    project = open_project(settings)
    app = create_app(settings, project, insecure_local=True)
    try:
        with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as c:
            r = c.post("/api/retrain", json={"reason": "by hand"})
            assert r.status_code == 202 and r.json()["queued"] is False, r.text
            wait_until(multiprocessing.active_children, "the candidate's fit to start", timeout=180)
            threads = list(app.state.background_retrains.threads)
            assert [t.is_alive() for t in threads] == [True]
        # The lifespan's shutdown has run.
        assert [t.name for t in threads if t.is_alive()] == []
        [run] = list_runs(project.store)
        assert (run["status"], run["step"], run["actor"]) == ("abandoned", "train", "api:local")
        assert LeaseLock(project.store, lock_name(settings.project)).current() is None
        assert multiprocessing.active_children() == []
    finally:
        app.state.background_retrains.stop_all(60)
        project.close()
