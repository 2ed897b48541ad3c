"""The retrain runner in-process against real MLflow and SQLite/PostgreSQL metadata."""

from __future__ import annotations

from pathlib import Path

from evergreen.examples import churn
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import Project, open_project
from evergreen.store.audit import list_actions
from evergreen.store.runs import get_run
from tests.support.project import make_project_settings
from tests.support.serving import wait_until
from tests.support.stack import ChampionNotices


def test_trained_project_fixture(trained_project):
    reg = trained_project.registry
    assert reg.aliases() == {"champion": "1"}
    info = reg.get_version("1")
    assert info.tags["evergreen.decision"] == "promoted"
    actions = list_actions(trained_project.store)
    assert actions[0]["actor"] == "system" and actions[0]["action"] == "promote"


def test_retrain_on_postgres_metadata(tmp_path: Path, postgres_url: str):
    settings = make_project_settings(tmp_path / "pg", database_url=postgres_url)
    settings.data.landing.mkdir(parents=True)
    churn.make_batch(0, 800, drifted=False).to_parquet(settings.data.landing / "w0.parquet")
    project = open_project(settings)
    try:
        with ChampionNotices(postgres_url) as notices:
            out = RetrainRunner(project).run(RetrainRequest(trigger="schedule"))
            assert out.status == "promoted"
            # Running servers heard of v1 when it was registered (they load it while it is
            # evaluated), then that it became the champion.
            champion_at = wait_until(lambda: notices.at("1", 0.0), "the champion notice")
            registered_at = notices.registered_at("1")
            assert registered_at is not None and registered_at <= champion_at
        run = get_run(project.store, out.run_id)
        # Every stage's timing is on the run row, the last ones (decide, promote) included.
        stages = {"ingest", "dataset", "train", "register", "evaluate", "decide", "promote"}
        assert stages <= set(run["timings"]) and stages <= set(out.timings)
        assert (
            run["status"] == "promoted"
            and run["trigger"] == "schedule"
            and run["decisions"][0]["outcome"] == "promoted"
        )
        again = RetrainRunner(project).run(RetrainRequest())
        assert again.status == "skipped"
    finally:
        project.store.engine.dispose()


def test_stale_champion_is_replaced_and_worse_candidate_rejected(tmp_path: Path):
    settings = make_project_settings(tmp_path / "p", data={"window": {"max_age_days": 21}})
    landing = settings.data.landing
    landing.mkdir(parents=True)
    project = open_project(settings)
    outcomes = []
    for i in range(8):
        churn.make_batch(i, 1200, drifted=i >= 4).to_csv(landing / f"w{i}.csv", index=False)
        outcomes.append(
            RetrainRunner(project).run(RetrainRequest(trigger="new_data", as_of=churn.batch_end(i)))
        )
    statuses = [o.status for o in outcomes]
    assert statuses[0] == "promoted"
    assert "rejected" in statuses[1:4]  # same behaviour, more data: not significantly better
    assert "promoted" in statuses[4:]  # the change makes the champion stale
    for o in outcomes:
        if o.status == "promoted" and o.champion_metrics:
            assert o.candidate_metrics["f1_macro"] > o.champion_metrics["f1_macro"]
            assert o.decision is not None and o.decision["ci_low"] > 0


def _task_project(tmp_path: Path, task: str, target: str, drop: list[str]) -> Project:
    settings = make_project_settings(
        tmp_path / task,
        task=task,
        data={"target": target},
        training={"selection_metric": None},
        promotion={"metric": None, "min_metrics": {}},
    )
    settings.data.landing.mkdir(parents=True)
    for i in range(2):
        frame = churn.make_batch(i, 900, drifted=False).drop(columns=drop)
        frame.to_csv(settings.data.landing / f"w{i}.csv", index=False)
    return open_project(settings)


def test_regression_project_decides_on_rmse(tmp_path: Path):
    project = _task_project(tmp_path, "regression", "monthly_fee", ["churned"])
    first = RetrainRunner(project).run(RetrainRequest())
    assert first.status == "promoted" and first.decision is not None
    assert first.decision["metric"] == "rmse" and {"rmse", "mae", "r2"} <= set(first.candidate_metrics)
    again = RetrainRunner(project).run(RetrainRequest(force=True))
    assert again.status == "rejected"  # identical data and seed: no improvement on rmse
    assert again.candidate_metrics["rmse"] == first.candidate_metrics["rmse"]
    assert again.champion_metrics["rmse"] == first.candidate_metrics["rmse"]


def test_multiclass_project(tmp_path: Path):
    project = _task_project(tmp_path, "multiclass", "plan", ["churned"])
    out = RetrainRunner(project).run(RetrainRequest())
    assert out.status == "promoted"
    assert {"f1_class_basic", "f1_class_premium", "f1_class_standard", "roc_auc"} <= set(
        out.candidate_metrics
    )
    model = project.registry.load_model(out.candidate_version)
    assert set(model.classes_) == {"basic", "premium", "standard"}
