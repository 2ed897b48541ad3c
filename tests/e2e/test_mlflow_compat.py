"""What evergreen registers works with MLflow's own tools: `mlflow models serve` on the champion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from evergreen.examples import churn
from tests.support.net import free_port, wait_http


def test_mlflow_models_serve_serves_the_champion(trained_project, tmp_path: Path):
    port = free_port()
    bindir = Path(sys.executable).parent  # mlflow runs `uvicorn` from PATH
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": trained_project.settings.storage.mlflow_tracking_uri,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    mlflow_bin = bindir / "mlflow"
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "models",
            "serve",
            "-m",
            "models:/churn@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),  # noqa: SIM115
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", proc)
        frame = churn.make_batch(3, 5, drifted=False)[
            ["tenure", "monthly_fee", "support_calls", "plan", "region", "last_ticket"]
        ]
        res = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_records": frame.to_dict(orient="records")},
            timeout=30,
        )
        assert res.status_code == 200, res.text
        preds = res.json()["predictions"]
        expected = trained_project.registry.load_model("1").predict(frame)
        assert preds == list(expected)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
