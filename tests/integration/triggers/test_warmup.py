"""The scheduler loads what a retrain needs, and opens the MLflow client, before it says it is ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from evergreen.examples import churn
from tests.support.cli import ROOT

PROBE = """
import json, sys
from evergreen.config import load_settings
from evergreen.logs import configure_logging
from evergreen.project import open_project
from evergreen.triggers.scheduler import Scheduler

configure_logging()  # JSON lines on stderr, as `evergreen scheduler` logs
sched = Scheduler(open_project(load_settings(sys.argv[1])))
sched.open()
sched.close()
print(json.dumps(sorted({m for m in sys.modules})))
"""


def test_scheduler_open_warms_up(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    churn.write_config(str(root / "evergreen.yaml"))
    cfg = yaml.safe_load((root / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression", "tests.support.candidates:broken"]
    (root / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "EVERGREEN_LOG_FORMAT": "json"})
    res = subprocess.run(
        [sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr
    modules = set(json.loads(res.stdout.strip().splitlines()[-1]))
    for name in ("mlflow.sklearn", "mlflow.pyfunc", "sklearn.ensemble", "skops.io", "pyarrow.dataset"):
        assert name in modules
    assert "tests.support.candidates" in modules  # a custom candidate's module too
    events = [json.loads(line)["event"] for line in res.stderr.splitlines() if line.startswith("{")]
    assert events.index("warmed_up") < events.index("scheduler_started")
    assert (root / ".evergreen" / "mlflow.db").exists()  # the client was opened (its store created)
