"""What evergreen registers works with MLflow's own tools: `mlflow models serve` on the champion.

Both tests start ``mlflow models serve`` as a real process on a free loopback port (``--env-manager
local``: no virtualenv is built), so each stays well under a minute; they are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from evergreen.examples import churn
from evergreen.serving.app import create_app
from tests.support.interop import trained_mixed_project
from tests.support.net import free_port, wait_http
from tests.support.serving import live

# slow, and bounded: each measured ~35 s on the shared 2-core machine (start-up of the MLflow server
# dominates); a hang fails at 90 s instead of holding the suite for the default 600.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


@contextmanager
def mlflow_models_serve(tracking_uri: str, model_uri: str, log: Path) -> Iterator[str]:
    """``mlflow models serve -m MODEL_URI`` on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    bindir = Path(sys.executable).parent  # mlflow runs `uvicorn` from PATH
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmd = [str(bindir / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local"]
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [*cmd, "-h", "127.0.0.1", "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/ping", proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # never leave a server behind for the next test
                proc.kill()
                proc.wait()


def test_mlflow_models_serve_serves_the_champion(trained_project: Any, tmp_path: Path) -> None:
    uri = trained_project.settings.storage.mlflow_tracking_uri
    with mlflow_models_serve(uri, "models:/churn@champion", tmp_path / "serve.log") as url:
        frame = churn.make_batch(3, 5, drifted=False)[
            ["tenure", "monthly_fee", "support_calls", "plan", "region", "last_ticket"]
        ]
        res = httpx.post(
            f"{url}/invocations",
            json={"dataframe_records": frame.to_dict(orient="records")},
            timeout=60,
        )
        assert res.status_code == 200, res.text
        preds = res.json()["predictions"]
        expected = trained_project.registry.load_model("1").predict(frame)
        assert preds == list(expected)


def test_mlflow_models_serve_and_evergreen_serve_answer_the_same_records(tmp_path: Path) -> None:
    """Integer, float, boolean and string columns as JSON gives them: both servers, the same answers."""
    project = trained_mixed_project(tmp_path / "p")
    try:
        # The users' records: the ingested CSV read back, the target dropped, as JSON-native values.
        frame = pd.read_csv(project.settings.data.landing / ".processed" / "batch.csv").head(40)
        records = json.loads(frame.drop(columns=["left"]).to_json(orient="records"))
        assert {type(records[0][c]).__name__ for c in ("visits", "spend", "member", "plan")} == {
            "int",
            "float",
            "bool",
            "str",
        }
        uri = project.settings.storage.mlflow_tracking_uri
        with mlflow_models_serve(uri, "models:/interop@champion", tmp_path / "serve.log") as url:
            theirs = httpx.post(f"{url}/invocations", json={"dataframe_records": records}, timeout=60)
        assert theirs.status_code == 200, theirs.text
        with live(create_app(project.settings, project)) as srv, srv.client() as c:
            ours = c.post("/predict", json={"records": records})
        assert ours.status_code == 200, ours.text
        assert ours.json()["model_version"] == "1"
        assert ours.json()["predictions"] == theirs.json()["predictions"]
        assert set(ours.json()["predictions"]) == {"yes", "no"}  # both classes: the comparison says something
    finally:
        project.close()
