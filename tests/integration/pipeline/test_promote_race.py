"""A person moves the champion while a retrain runs: the retrain's promote stage does not act on a
decision taken against a model that no longer serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evergreen import control
from evergreen.examples import churn
from evergreen.pipeline import RetrainRequest, RetrainRunner, stages
from evergreen.project import Project, open_project
from evergreen.registry import CHAMPION, PREVIOUS
from evergreen.store.audit import list_actions
from evergreen.store.runs import get_run
from tests.support.project import make_project_settings
from tests.support.training import CONSTANT


def _project(root: Path, *candidates: str) -> Project:
    settings = make_project_settings(root, training={"candidates": list(candidates)})
    settings.data.landing.mkdir(parents=True, exist_ok=True)
    return open_project(settings)


def _when_promoting(monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Run ``act`` (a person's action) after the run decided, just before it takes the models lease."""
    real = stages.acquire_models_lease

    def acquire(project: Project, **kw: Any) -> Any:
        act()
        return real(project, **kw)

    monkeypatch.setattr(stages, "acquire_models_lease", acquire)


def test_a_rollback_during_the_run_makes_the_run_decide_again_against_the_champion_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    good = _project(root, "logistic_regression")
    churn.make_batch(0, 1200, drifted=False).to_csv(good.settings.data.landing / "w0.csv", index=False)
    assert RetrainRunner(good).run(RetrainRequest(trigger="manual")).status == "promoted"  # v1
    weak = _project(root, CONSTANT)
    assert RetrainRunner(weak).run(RetrainRequest(trigger="manual", force=True)).status == "rejected"  # v2
    control.promote(weak, "2", actor="alice", reason="try the constant model")  # champion v2, previous v1
    # The next run trains v3 (logistic again) and decides it beats the constant v2; before it moves
    # the alias, bob rolls back to v1, the same logistic model as v3.
    _when_promoting(monkeypatch, lambda: control.rollback(good, actor="bob", reason="v2 is bad"))
    out = RetrainRunner(good).run(RetrainRequest(trigger="manual", force=True))

    assert good.registry.version_by_alias(CHAMPION) == "1"  # bob's rollback stands
    run = get_run(good.store, out.run_id)
    assert (out.status, run["status"], run["candidate_version"]) == ("rejected", "rejected", "3")
    first, second = run["decisions"]
    assert (first["outcome"], first["champion_version"]) == ("promoted", "2")
    assert (second["outcome"], second["champion_version"]) == ("rejected", "1")
    newest = list_actions(good.store)[0]
    assert (newest["actor"], newest["action"], newest["target"]) == ("system", "rejected", "version:3")
    assert newest["before"] == newest["after"] == {"champion": "1"}


def test_a_candidate_promoted_by_hand_during_the_run_is_not_moved_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "p", "logistic_regression")
    churn.make_batch(0, 1200, drifted=False).to_csv(project.settings.data.landing / "w0.csv", index=False)
    _when_promoting(monkeypatch, lambda: control.promote(project, "1", actor="alice", reason="ship it"))
    out = RetrainRunner(project).run(RetrainRequest(trigger="manual"))

    assert out.status == "promoted" and "already made the champion by hand" in out.reason
    assert project.registry.aliases() == {CHAMPION: "1"}  # no PREVIOUS pointing at the champion itself
    assert PREVIOUS not in project.registry.aliases()
    promotes = [a for a in list_actions(project.store) if a["action"] == "promote"]
    assert [(a["actor"], a["target"]) for a in promotes] == [("alice", "version:1")]
