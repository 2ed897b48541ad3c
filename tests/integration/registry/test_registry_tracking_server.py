"""Against a real `mlflow server --serve-artifacts`: the server, not evergreen, decides where artifacts go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from evergreen.registry import Registry, is_tracking_server
from tests.support.net import free_port, spawn_logged, wait_http


def test_is_tracking_server() -> None:
    assert is_tracking_server("http://mlflow:5000") and is_tracking_server("HTTPS://x")
    assert not is_tracking_server("sqlite:///x.db") and not is_tracking_server("postgresql+psycopg://h/db")
    assert not is_tracking_server("/tmp/mlruns")


@pytest.mark.slow
def test_artifacts_go_where_the_server_sends_them(tmp_path: Path) -> None:
    dest, local = tmp_path / "server-artifacts", tmp_path / "local-artifacts"
    port = free_port()
    log = tmp_path / "mlflow-server.log"
    proc = spawn_logged(
        [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--artifacts-destination", dest.as_uri(), "--serve-artifacts",
        ],
        log, start_new_session=True,  # the server forks uvicorn workers: stop the whole group
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log=log)
        reg = Registry(f"http://127.0.0.1:{port}", local, "proj")
        exp = reg.client.get_experiment(reg.experiment_id)
        assert exp.artifact_location.startswith("mlflow-artifacts:")
        run_id = reg.start_run("r", {})
        note = tmp_path / "note.txt"
        note.write_text("hello")
        reg.client.log_artifact(run_id, str(note))
        assert [p.read_text() for p in dest.rglob("note.txt")] == ["hello"]
        assert not local.exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
