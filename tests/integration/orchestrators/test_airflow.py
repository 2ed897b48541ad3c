"""The Airflow adapter under ``dag.test()`` on SQLite, against a real evergreen project."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def airflow_home(tmp_path: Path) -> Path:
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
    )
    return home


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def test_generated_dag_promotes_then_skips_on_unchanged_data(
    airflow_home: Path, project_config: Path, tmp_path: Path
):
    from tests.integration.orchestrators.conftest import twin

    embedded_cfg = twin(project_config, tmp_path)
    dag_file = airflow_home / "dags" / "evergreen_churn.py"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "airflow-dag", "-c", str(project_config), "-o", str(dag_file)],
        check=True,
        capture_output=True,
    )
    from airflow.utils import db

    db.initdb()
    spec = importlib.util.spec_from_file_location("evergreen_churn_dag", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag.dag_id == "evergreen_churn_retrain" and dag.max_active_runs == 1
    assert dag.schedule == "0 2 * * 1"
    assert dag.default_args["retries"] == 3 and dag.default_args["retry_exponential_backoff"] is True
    assert module.dag_on_landing.dag_id == "evergreen_churn_retrain_on_landing"

    first = dag.test()
    assert str(first.state) == "success"
    states = _states(first)
    assert states["promote"] == "success" and states["no_trigger"] == "skipped"

    from evergreen.config import load_settings
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project
    from evergreen.store.runs import list_runs

    project = open_project(load_settings(project_config))
    [run] = list_runs(project.store)
    assert (run["trigger"], run["status"], run["candidate_version"]) == ("new_data", "promoted", "1")
    assert project.registry.version_by_alias("champion") == "1"
    project.registry.load_model("1")

    # Same data, same decision as the embedded runner.
    twin_project = open_project(load_settings(embedded_cfg))
    embedded = RetrainRunner(twin_project).run(RetrainRequest(trigger="new_data", reason="twin"))
    assert embedded.status == run["status"] and embedded.dataset_version == run["dataset_version"]
    [decision] = project.store and _decisions(project, run["id"])
    assert decision["candidate_metrics"] == embedded.candidate_metrics

    second = dag.test()
    assert str(second.state) == "success"
    states = _states(second)
    assert states["no_trigger"] == "success"
    assert {states[t] for t in ("assemble", "train", "evaluate", "decide", "promote", "notify")} == {
        "skipped"
    }
    assert len(list_runs(project.store)) == 1


def _decisions(project: Any, run_id: str) -> list[dict[str, Any]]:
    from evergreen.store.runs import get_run

    return list(get_run(project.store, run_id)["decisions"])
