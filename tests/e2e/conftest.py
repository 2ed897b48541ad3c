"""End-to-end fixtures: a project made by ``evergreen init`` and a CLI runner (a real subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.cli import Runner, cli_env, cli_runner


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """``evergreen init`` with two example batches, made small and fast for tests."""
    d = tmp_path / "proj"
    res = subprocess.run(
        [sys.executable, "-m", "evergreen", "init", str(d)], capture_output=True, text=True, env=cli_env()
    )
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression", "hist_gradient_boosting"]
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return d


@pytest.fixture
def run_cli(project_dir: Path) -> Runner:
    return cli_runner(project_dir)
