"""Short commands import no heavy library: ``--help``, ``status``, ``runs``, ``alerts`` and ``models``
run in a fresh interpreter on a project with a real MLflow store, and the modules they loaded are
checked (start-up time itself is measured by benchmarks/cli_startup.py, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from evergreen.config import load_settings
from evergreen.project import open_project
from tests.support.cli import cli_env

HEAVY = {"mlflow", "sklearn", "pandas", "numpy", "scipy", "pyarrow", "fastapi", "uvicorn", "alembic"}

PROBE = """
import json, sys
from evergreen.cli import main
code = 0
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}, f)
"""


@pytest.fixture
def project_with_champion(project_dir: Path) -> Path:
    """The init project with its metadata DB migrated and v1 of ``churn`` as champion in MLflow."""
    settings = load_settings(project_dir)
    open_project(settings).store.engine.dispose()
    client = MlflowClient(settings.storage.mlflow_tracking_uri)
    client.create_registered_model("churn")
    client.create_model_version("churn", "file:///m1", tags={"evergreen.dataset_version": "d1"})
    client.set_registered_model_alias("churn", "champion", "1")
    return project_dir


def test_short_commands_import_no_heavy_library(project_with_champion: Path, tmp_path: Path) -> None:
    # One project for all the commands: making it (init, MLflow's migrations) costs more than they do.
    for args in (["--help"], ["status"], ["status", "--json"], ["runs"], ["alerts"], ["models", "--json"]):
        out = tmp_path / "probe.json"
        res = subprocess.run(
            [sys.executable, "-c", PROBE, str(out), *args],
            cwd=project_with_champion,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        probe = json.loads(out.read_text())
        assert probe["code"] == 0, (args, res.stderr)
        assert HEAVY & set(probe["modules"]) == set(), args
        if args == ["--help"]:
            # The help names evergreen.yaml (evergreen.layout) without loading the settings models.
            assert {"pydantic", "yaml", "sqlalchemy"} & set(probe["modules"]) == set()
        if args == ["status", "--json"]:
            assert json.loads(res.stdout)["champion"]["version"] == "1"
        if args == ["models", "--json"]:
            assert [(v["version"], v["aliases"]) for v in json.loads(res.stdout)] == [("1", ["champion"])]


EXIT_PROBE = """
import atexit, gc, json, sys
out = sys.argv[1]
sys.argv = ["evergreen", *sys.argv[2:]]
# Registered first, so it runs last: after what the command registered for the exit.
state = lambda: {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}  # noqa: E731
atexit.register(lambda: open(out, "w").write(json.dumps(state())))
from evergreen.cli import main
main()
"""


def test_a_quick_verb_runs_without_the_garbage_collector(project_with_champion: Path, tmp_path: Path) -> None:
    # The console script's own process (main() reading sys.argv): `status` turns the collector off
    # and freezes what is alive at exit; `init` (any verb not in QUICK_VERBS) leaves it alone.
    seen = {}
    for args in (["status"], ["init", str(tmp_path / "other")]):
        out = tmp_path / "exit.json"
        res = subprocess.run(
            [sys.executable, "-c", EXIT_PROBE, str(out), *args],
            cwd=project_with_champion,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, (args, res.stderr)
        seen[args[0]] = json.loads(out.read_text())
    assert seen["status"]["enabled"] is False
    assert seen["status"]["frozen"] > 10_000  # the imports' objects, skipped by the last collection
    assert seen["init"] == {"enabled": True, "frozen": 0}
