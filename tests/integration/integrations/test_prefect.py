"""The Prefect adapter under ``prefect_test_harness`` against a real evergreen project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    # The ephemeral server's 30 s default is too short on a loaded CI machine.
    with prefect_test_harness(server_startup_timeout=180):
        yield


def test_flow_promotes_then_skips_and_matches_the_embedded_runner(
    harness: None, project_config: Path, tmp_path: Path
):
    from evergreen.config import load_settings
    from evergreen.integrations.prefect import _retry_delays, retrain_flow
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project
    from evergreen.store.runs import get_run, list_runs
    from tests.integration.integrations.conftest import twin

    embedded_cfg = twin(project_config, tmp_path)
    assert _retry_delays(str(project_config)) == (3, [30.0, 60.0, 120.0])

    first = retrain_flow(str(project_config))
    assert (first["status"], first["trigger"], first["candidate_version"]) == ("promoted", "new_data", "1")
    assert first["champion_version"] == "1"
    project = open_project(load_settings(project_config))
    project.registry.load_model("1")

    embedded = RetrainRunner(open_project(load_settings(embedded_cfg))).run(
        RetrainRequest(trigger="new_data", reason="twin")
    )
    [decision] = get_run(project.store, first["run_id"])["decisions"]
    assert embedded.status == "promoted" and decision["candidate_metrics"] == embedded.candidate_metrics
    assert get_run(project.store, first["run_id"])["dataset_version"] == embedded.dataset_version

    second = retrain_flow(str(project_config))
    assert second == {"status": "no_trigger", "reason": "no trigger fired"}
    assert len(list_runs(project.store)) == 1


def test_generated_flow_file_imports_and_names_the_cron(project_config: Path, tmp_path: Path):
    out = tmp_path / "flow.py"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "prefect-flow", "-c", str(project_config), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    text = out.read_text()
    assert "retrain_flow.serve(" in text and "cron='0 2 * * 1'" in text and str(project_config) in text
    compile(text, str(out), "exec")


def test_a_run_time_min_improvement_override_changes_the_flow_decision(harness: None, project_config: Path):
    import yaml

    from evergreen.config import load_settings
    from evergreen.control import set_thresholds
    from evergreen.integrations.prefect import retrain_flow
    from evergreen.project import open_project
    from evergreen.store.requests import enqueue_retrain

    cfg = yaml.safe_load(project_config.read_text())
    cfg["promotion"]["significance"] = None  # the decision turns on min_improvement alone
    project_config.write_text(yaml.safe_dump(cfg))
    assert retrain_flow(str(project_config))["status"] == "promoted"
    project = open_project(load_settings(project_config))

    # A forced retrain on the same data makes the same model: a delta of exactly 0. evergreen.yaml
    # (min_improvement 0.01) rejects it; the override accepting any change must promote it.
    set_thresholds(project, {"promotion.min_improvement": -0.5}, actor="api:ops", reason="test")
    enqueue_retrain(project.store, "same data, new threshold", "api:ops", force=True)
    out = retrain_flow(str(project_config))
    assert (out["trigger"], out["status"], out["candidate_version"]) == ("manual", "promoted", "2")
    assert out["champion_version"] == "2"


def _flow_whose_promote_fails_once(
    project_config: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> list[int]:
    """The champion-move attempts of a project whose first move raises ``exc``; retries without delay."""
    import yaml

    from tests.support.faults import fail_champion_move_once

    cfg = yaml.safe_load(project_config.read_text())
    cfg["triggers"].update({"backoff_seconds": 0})
    project_config.write_text(yaml.safe_dump(cfg))
    return fail_champion_move_once(monkeypatch, exc)


def test_a_transient_failure_is_retried_by_prefect_within_the_same_run(
    harness: None, project_config: Path, monkeypatch: pytest.MonkeyPatch
):
    # MLflow fails the first promote attempt: Prefect's retry (the flow's own retries, no delay here)
    # carries the same evergreen run on to its promotion; nothing is recorded as failed meanwhile.
    from evergreen.config import load_settings
    from evergreen.errors import RegistryError
    from evergreen.integrations.prefect import retrain_flow
    from evergreen.project import open_project
    from evergreen.store.audit import list_actions
    from evergreen.store.runs import list_runs

    outage = RegistryError("mlflow unreachable")
    attempts = _flow_whose_promote_fails_once(project_config, monkeypatch, outage)
    out = retrain_flow(str(project_config))
    assert (out["status"], out["champion_version"], len(attempts)) == ("promoted", "1", 2)
    project = open_project(load_settings(project_config))
    assert [r["status"] for r in list_runs(project.store)] == ["promoted"]
    assert list_actions(project.store, action="retrain_failed") == []


def test_a_deterministic_failure_is_not_retried_by_prefect(
    harness: None, project_config: Path, monkeypatch: pytest.MonkeyPatch
):
    from evergreen.config import load_settings
    from evergreen.integrations.prefect import retrain_flow
    from evergreen.project import open_project
    from evergreen.store.runs import list_runs

    attempts = _flow_whose_promote_fails_once(project_config, monkeypatch, RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        retrain_flow(str(project_config))
    assert len(attempts) == 1
    project = open_project(load_settings(project_config))
    [run] = list_runs(project.store)
    assert run["status"] == "failed" and project.registry.version_by_alias("champion") is None
