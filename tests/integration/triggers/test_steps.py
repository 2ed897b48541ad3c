"""The orchestrator step functions in-process (no orchestrator): they share RetrainRunner's code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVERGREEN_PII_SALT", "steps-salt")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    d = tmp_path / "proj"
    subprocess.run(
        [sys.executable, "-m", "evergreen", "init", str(d)],
        check=True,
        env=dict(os.environ),
        capture_output=True,
    )
    cfg = yaml.safe_load((d / "evergreen.yaml").read_text())
    cfg["training"]["candidates"] = ["logistic_regression"]
    (d / "evergreen.yaml").write_text(yaml.safe_dump(cfg))
    return d / "evergreen.yaml"


def test_run_all_promotes_then_finds_nothing_to_do(config: Path) -> None:
    from evergreen.triggers import steps

    first = steps.run_all(str(config))
    assert (first["status"], first["candidate_version"], first["champion_version"]) == ("promoted", "1", "1")
    assert steps.run_all(str(config)) == {"status": "no_trigger", "reason": "no trigger fired"}


def test_a_failing_step_fails_the_run_keeps_its_timings_and_rejects_the_candidate(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evergreen.registry import TAG_PREFIX
    from evergreen.store.runs import get_run
    from evergreen.triggers import steps, steps_outcome
    from evergreen.triggers.stepbase import open_config

    cfg = str(config)
    steps.ingest(cfg)
    ref = steps.assemble(cfg, steps.check_triggers(cfg))
    for step in (steps.train, steps.evaluate_candidate, steps.decide_candidate):
        ref = step(cfg, ref)

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("registry went away")

    monkeypatch.setattr(steps_outcome, "apply_decision", boom)
    with pytest.raises(RuntimeError):
        steps.promote(cfg, ref)
    project = open_config(cfg)
    run = get_run(project.store, ref["run_id"])
    assert run["status"] == "failed" and run["error"].startswith("RuntimeError: registry went away")
    assert {"dataset", "train", "evaluate", "decide"} <= set(run["timings"])
    assert project.registry.version_by_alias("champion") is None
    tags = project.registry.get_version(ref["candidate_version"]).tags
    assert tags[TAG_PREFIX + "decision"] == "rejected"
