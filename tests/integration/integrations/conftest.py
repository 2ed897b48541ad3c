"""Orchestrator tests run in their own venvs (``make test-orchestrators``), never in the main one.

``EVERGREEN_ORCHESTRATOR`` names the orchestrator whose venv runs pytest; its test module is then
collected and must import (no skip), and the other one is left out. Without it (the main venv) the
folder is not collected at all, so nothing is silently skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WHICH = os.environ.get("EVERGREEN_ORCHESTRATOR")
collect_ignore = [f"test_{name}.py" for name in ("airflow", "prefect") if name != WHICH]


@pytest.fixture
def project_config(tmp_path: Path) -> Path:
    """A real project made by ``evergreen init`` (two example batches), with one fast candidate."""
    env = {**os.environ, "EVERGREEN_PII_SALT": "orchestrator-salt", "MLFLOW_DISABLE_TELEMETRY": "true"}
    os.environ.update({k: env[k] for k in ("EVERGREEN_PII_SALT", "MLFLOW_DISABLE_TELEMETRY")})
    d = tmp_path / "proj"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "init", str(d)], check=True, env=env, capture_output=True
    )
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return d / "evergreen.yaml"


def twin(config: Path, tmp_path: Path) -> Path:
    """A copy of a fresh project (same landing files) to run the embedded runner on."""
    dst = tmp_path / "twin"
    shutil.copytree(config.parent, dst)
    return dst / "evergreen.yaml"
