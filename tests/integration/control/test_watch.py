"""Auto-rollback after a promotion, end to end: real MLflow on SQLite, the real serving app (the
replaced champion scores in shadow), real feedback, the runner the scheduler's tick calls.

The project learns STAGGER concept 0 (v1), then a batch of concept 1 arrives and the retrain promotes
v2 (trained on it). Live traffic then follows concept 0 (v2 is worse: rolled back) or concept 1 (v2
is better: kept); with 20 labelled records nothing happens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sklearn.metrics import roc_auc_score
from sqlalchemy import select

from evergreen.config import settings_from_dict
from evergreen.control.watch import check_watch
from evergreen.examples.streams import Stream, stagger_label, stream_config
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import Project, open_project
from evergreen.registry import CHAMPION
from evergreen.serving.app import create_app
from evergreen.store.audit import list_actions
from evergreen.store.tables import alerts, decisions
from evergreen.store.watch import current_watch, labelled_pairs
from evergreen.triggers.scheduler import Scheduler
from tests.support.serving import collected, count_predictions, live, wait_until

STREAM = Stream("stagger", "sudden", before=0, after=1, change_batch=1, batches=2, rows=400, seed=11)
LIVE = Stream("stagger", "sudden", before=0, after=0, change_batch=99, rows=120, seed=12)


@pytest.fixture
def promoted(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Iterator[Project]:
    """v2 (concept 1) promoted by a retrain over v1 (concept 0): the watch is open (SQLite and
    PostgreSQL metadata: the paired-rows queries run on both). ``indirect`` param: the watched metric."""
    raw = yaml.safe_load(stream_config(STREAM, max_batches=1))
    raw["monitoring"] = {"schedule": None, "metric": getattr(request, "param", "accuracy")}
    raw["storage"] = {"database_url": database_url}
    raw["promotion"]["watch"] = {"rows": 2000, "days": 7, "min_labels": 50}
    raw["serving"] = {"reload_interval_seconds": 0.2}
    settings = settings_from_dict(raw, tmp_path, env=dict(os.environ))
    settings.data.landing.mkdir(parents=True)
    project = open_project(settings)
    try:
        for i in range(2):
            STREAM.batch(i).to_parquet(settings.data.landing / f"b{i}.parquet")
            assert RetrainRunner(project).run(RetrainRequest(trigger="new_data")).status == "promoted"
        assert project.registry.aliases() == {"champion": "2", "previous": "1"}
        yield project
    finally:
        project.store.engine.dispose()


def _serve_and_label(project: Project, n: int, concept: int) -> None:
    """``n`` live records through /predict (both models score them), then their labels by ``concept``."""
    frame = LIVE.batch(0).head(n)
    records = frame[["row_id", "size", "color", "shape"]].to_dict(orient="records")
    labels = ["yes" if v else "no" for v in stagger_label(frame, concept)]
    with live(create_app(project.settings, project)) as srv, srv.client() as c:
        wait_until(lambda: srv.ctx.holder.shadow is not None, "the replaced champion to load in shadow")
        assert srv.ctx.holder.shadow.version == "1" and srv.ctx.holder.current.version == "2"
        body = c.post("/predict", json={"records": records}).json()
        ids = body["prediction_ids"]
        wait_until(lambda: count_predictions(project.store, role="shadow") == n, "the shadow predictions")
        wait_until(lambda: count_predictions(project.store, role="champion") == n, "the predictions")
        feedback = [{"prediction_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
        assert c.post("/feedback", json={"feedback": feedback}).status_code == 200


def test_a_promotion_worse_on_live_data_is_rolled_back(promoted: Project) -> None:
    _serve_and_label(promoted, 60, concept=0)
    tick = Scheduler(promoted).tick()  # the runner the scheduler calls on every tick
    assert tick.watch == "regressed"
    assert promoted.registry.version_by_alias(CHAMPION) == "1"
    audit = list_actions(promoted.store, action="rollback")[0]
    assert audit["actor"] == "system" and audit["after"]["champion"] == "1"
    assert audit["reason"].startswith(
        "automatic rollback: v2 vs v1 on the same 60 labelled live records: accuracy"
    )
    assert "worse beyond the sampling band: rolled back to v1" in audit["reason"]
    with promoted.store.connect() as conn:
        row = conn.execute(select(decisions).order_by(decisions.c.id.desc()).limit(1)).mappings().one()
        raised = conn.execute(select(alerts.c.kind, alerts.c.level, alerts.c.title)).all()
    assert (row["outcome"], row["actor"], row["candidate_version"], row["champion_version"]) == (
        "rollback",
        "system",
        "1",
        "2",
    )
    numbers = row["checks"][0]["numbers"]
    assert numbers["rows"] == 60 and numbers["old_value"] == 1.0 and numbers["new_value"] < 0.8
    assert row["candidate_metrics"]["accuracy"] == 1.0 and row["deltas"]["accuracy"] > 0.2
    assert ("champion_changed", "alert") in {(k, lv) for k, lv, _ in raised}
    assert check_watch(promoted) is None  # the rollback ended the watch: no second move


def test_a_rollback_onto_a_previous_that_cannot_be_served_is_refused_once_and_alerted(
    promoted: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a review: the refused rollback left the watch open, so every tick judged again, took
    # the models lease, loaded the whole previous model, failed and logged watch_failed for the rest
    # of the watch; nobody was told that a regression was found and could not be undone.
    _serve_and_label(promoted, 60, concept=0)
    collected(promoted, "1")  # `mlflow gc` took v1's files; 'previous' still names it
    reg = promoted.registry
    loads: list[str] = []
    real_load = reg.load_model

    def counted(version: str) -> object:
        loads.append(version)
        return real_load(version)

    monkeypatch.setattr(reg, "load_model", counted)
    assert Scheduler(promoted).tick().watch == "regressed"
    assert loads == ["1"] and reg.aliases() == {"champion": "2", "previous": "1"}
    assert Scheduler(promoted).tick().watch is None  # the refusal ended the watch
    assert loads == ["1"]  # not loaded again
    assert list_actions(promoted.store, action="rollback") == []
    [refused] = list_actions(promoted.store, action="rollback_refused")
    assert (refused["actor"], refused["target"]) == ("system", "version:1")
    assert refused["reason"].startswith(
        "v2 regressed on live data and stays the champion: v1 cannot be served"
    )
    assert refused["after"]["judgement"]["verdict"] == "regressed"
    with promoted.store.connect() as conn:
        raised = conn.execute(
            select(alerts.c.level, alerts.c.status, alerts.c.title).where(alerts.c.kind == "rollback_refused")
        ).all()
    [(level, status, title)] = raised
    assert (level, status) == ("critical", "open")
    assert title.startswith("automatic rollback to v1 refused: v2 regressed on live data")


def test_a_promotion_better_on_live_data_is_kept(promoted: Project) -> None:
    _serve_and_label(promoted, 60, concept=1)
    judgement = check_watch(promoted)
    assert judgement is not None and judgement.verdict == "kept"
    assert (judgement.rows, judgement.new_value) == (60, 1.0) and judgement.old_value is not None
    assert judgement.old_value < 0.8
    assert promoted.registry.version_by_alias(CHAMPION) == "2"
    assert not list_actions(promoted.store, action="rollback")


def test_twenty_labelled_rows_are_left_alone(promoted: Project) -> None:
    _serve_and_label(promoted, 20, concept=0)
    judgement = check_watch(promoted)
    assert judgement is not None and (judgement.verdict, judgement.rows) == ("insufficient_data", 20)
    assert promoted.registry.version_by_alias(CHAMPION) == "2"
    assert not list_actions(promoted.store, action="rollback")


@pytest.mark.parametrize("promoted", ["roc_auc"], indirect=True)
def test_a_probability_metric_is_judged_on_both_models_logged_probabilities(promoted: Project) -> None:
    _serve_and_label(promoted, 60, concept=0)
    watch = current_watch(promoted.store)
    assert watch is not None
    pairs = labelled_pairs(promoted.store, watch, 100)
    truth = [p.label == "yes" for p in pairs]
    judgement = check_watch(promoted)
    assert judgement is not None and (judgement.metric, judgement.rows) == ("roc_auc", 60)
    # Each model's value is sklearn's ROC AUC of the P("yes") it logged for the same 60 records.
    assert judgement.new_value == pytest.approx(roc_auc_score(truth, [p.new_proba["yes"] for p in pairs]))
    assert judgement.old_value == pytest.approx(roc_auc_score(truth, [p.old_proba["yes"] for p in pairs]))
    assert judgement.verdict == "regressed" and promoted.registry.version_by_alias(CHAMPION) == "1"


def test_a_promotion_by_hand_while_the_watch_judges_stands(
    promoted: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evergreen import control
    from evergreen.control import watch as watch_module
    from evergreen.errors import ConflictError

    _serve_and_label(promoted, 60, concept=0)  # v2 regressed: the watch would roll back to v1
    reg = promoted.registry
    # v3: v1's model registered again (what a person might promote while the watch scores).
    info = reg.get_version("1")
    example = STREAM.batch(0).head(5)[["row_id", "size", "color", "shape"]]
    v3, _ = reg.register_model(
        info.run_id or "", reg.load_model("1"), example, {"evergreen.run_id": "by-hand"}
    )
    real = watch_module.paired_score

    def paired_score(*args: object, **kwargs: object) -> object:
        score = real(*args, **kwargs)  # type: ignore[arg-type]
        control.promote(promoted, v3, actor="cli:ann", reason="the fix")  # meanwhile, by hand
        return score

    monkeypatch.setattr(watch_module, "paired_score", paired_score)
    with pytest.raises(ConflictError, match=r"^the champion moved meanwhile \(v3, judged v2\)"):
        check_watch(promoted)
    assert reg.aliases() == {"champion": v3, "previous": "2"}  # was rolled back to v1 over the person
    assert [a["actor"] for a in list_actions(promoted.store, action="rollback")] == []
