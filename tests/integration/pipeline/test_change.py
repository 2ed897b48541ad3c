"""promotion.evaluate_on: auto on a real retrain: after a sudden change of concept the comparison
moves to the newest batch's holdout rows, and the justification names them."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from evergreen.config import settings_from_dict
from evergreen.examples.streams import Stream, stream_config
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import open_project
from evergreen.store.runs import get_run

STREAM = Stream("stagger", "sudden", before=0, after=1, change_batch=3, batches=5, rows=400, seed=3)


def _run(tmp_path: Path, evaluate_on: str) -> list[dict]:
    raw = yaml.safe_load(stream_config(STREAM, evaluate_on=evaluate_on))
    settings = settings_from_dict(raw, tmp_path, env=dict(os.environ))
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    runs = []
    try:
        for i in range(4):
            STREAM.batch(i).to_parquet(settings.data.landing / f"b{i}.parquet")
            out = RetrainRunner(project).run(RetrainRequest(trigger="new_data"))
            runs.append(get_run(project.store, out.run_id))
    finally:
        project.store.engine.dispose()
    return runs


def test_auto_judges_on_the_newest_batch_after_a_change(tmp_path: Path) -> None:
    runs = _run(tmp_path, "auto")
    assert [r["status"] for r in runs] == ["promoted", "rejected", "rejected", "promoted"]
    before = runs[2]["decisions"][0]
    rows = next(c for c in before["checks"] if c["name"] == "evaluation_rows")
    assert rows["numbers"]["rows"] == "window" and rows["numbers"]["reason"] == "no_change"
    after = runs[3]["decisions"][0]
    rows = next(c for c in after["checks"] if c["name"] == "evaluation_rows")["numbers"]
    assert (rows["rows"], rows["reason"], rows["recent_batches"], rows["older_batches"]) == (
        "recent",
        "performance_change",
        [4],
        [2, 3],
    )
    assert rows["champion_older"] == 1.0 and rows["champion_recent"] < 0.7
    text = after["justification"]
    assert f"Judged on the {rows['recent_rows']} holdout rows of the newest data (batch 4)" in text
    assert "fell by" in text and "the concept changed under the champion" in text
    assert "The candidate was trained on the newest data only (batch 4)." in text
    assert runs[3]["details"]["batch_ids"] == [4]  # trained after the change only


def test_window_keeps_the_old_concept_holdout(tmp_path: Path) -> None:
    runs = _run(tmp_path, "window")
    last = runs[3]["decisions"][0]
    rows = next(c for c in last["checks"] if c["name"] == "evaluation_rows")["numbers"]
    assert (rows["rows"], rows["reason"]) == ("window", "configured_window")
    assert runs[3]["details"]["batch_ids"] == [2, 3, 4]


def test_approval_rescores_on_the_rows_the_run_was_judged_on(tmp_path: Path) -> None:
    """A candidate judged on the newest batch after a change waits for approval; meanwhile an
    old-concept version becomes champion. The approval's re-scoring uses the same newest rows (on the
    window's, two-thirds old concept, the old model would win and the approval be refused)."""
    from evergreen import control
    from evergreen.registry import CHAMPION

    raw = yaml.safe_load(stream_config(STREAM, evaluate_on="auto"))
    # Trained on the window (with train_on_change the run's dataset is the newest batch alone, and
    # any re-scoring of it sees only the newest rows anyway).
    raw["promotion"]["train_on_change"] = False
    settings = settings_from_dict(raw, tmp_path, env=dict(os.environ))
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    try:
        for i in range(3):
            STREAM.batch(i).to_parquet(settings.data.landing / f"b{i}.parquet")
            RetrainRunner(project).run(RetrainRequest(trigger="new_data"))
    finally:
        project.store.engine.dispose()
    gated = settings.model_copy(
        update={"promotion": settings.promotion.model_copy(update={"require_approval": True})}
    )
    project = open_project(gated)
    try:
        STREAM.batch(3).to_parquet(settings.data.landing / "b3.parquet")
        out = RetrainRunner(project).run(RetrainRequest(trigger="new_data"))
        run = get_run(project.store, out.run_id)
        assert run["status"] == "pending_approval"
        rows = next(c for c in run["decisions"][0]["checks"] if c["name"] == "evaluation_rows")["numbers"]
        assert rows["rows"] == "recent"
        old_concept = "3"  # the candidate of the run before the change (rejected then, old concept)
        control.promote(project, old_concept, actor="test", reason="an old-concept champion")
        control.approve(project, out.run_id, actor="test", reason="looks right")
        assert project.registry.version_by_alias(CHAMPION) == run["candidate_version"]
    finally:
        project.store.engine.dispose()
