"""Retention against real MLflow (SQLite store, local artifacts) and a real metadata DB."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from evergreen import control
from evergreen.errors import LockHeldError, NotFoundError
from evergreen.retention.apply import run_gc
from evergreen.retention.plan import RetentionPolicy
from evergreen.store.audit import list_actions
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, models_lock_name
from evergreen.store.tables import feedback, predictions
from tests.support.serving import add_version, artifact_dir

pytestmark = pytest.mark.slow
POLICY = RetentionPolicy(keep_versions=1, min_version_age_days=30, predictions_days=90, processed_days=7)
LATER = timedelta(days=400)  # every version is older than every limit at "now"


def log_prediction(project: Any, version: str, at: Any) -> None:
    with project.store.begin() as conn:
        conn.execute(
            insert(predictions).values(
                id=uuid.uuid4().hex, project=project.store.project, created_at=at,
                model_version=version, record={}, role="champion",
            )
        )  # fmt: skip


def test_gc_keeps_the_champion_and_recently_used_versions_and_deletes_the_rest(trained_project: Any) -> None:
    p = trained_project
    v2, v3, v4 = add_version(p), add_version(p), add_version(p)
    now = utcnow() + LATER
    log_prediction(p, v3, now - timedelta(days=1))
    v2_dir = artifact_dir(p, v2)
    assert v2_dir.exists()

    dry = run_gc(p, POLICY, now, dry_run=True)
    assert dry.plan.delete_versions == (v2,) and dry.deleted_versions == ()
    assert {v.version for v in p.registry.list_versions()} == {"1", v2, v3, v4}
    kept = {d.version: d.kept_because for d in dry.plan.versions if not d.delete}
    assert kept == {
        "1": ("alias champion",),
        v3: ("in the prediction log of the last 90 days",),
        v4: ("one of the newest 1",),
    }

    result = run_gc(p, POLICY, now, actor="test")
    assert result.deleted_versions == (v2,) and result.skipped_versions == ()
    assert {v.version for v in p.registry.list_versions()} == {"1", v3, v4}
    assert not v2_dir.exists()
    assert p.registry.aliases()["champion"] == "1"
    import mlflow

    mlflow.set_tracking_uri(p.settings.storage.mlflow_tracking_uri)
    champion = mlflow.pyfunc.load_model("models:/churn@champion")  # still loads, files intact
    assert champion is not None
    [audit] = list_actions(p.store, action="gc_delete_version")
    assert (audit["actor"], audit["target"]) == ("test", f"version:{v2}")
    [run_audit] = list_actions(p.store, action="gc_delete_run")
    assert run_audit["target"] == f"run:{audit['before']['run_id']}"


def test_a_version_whose_run_is_gone_is_deleted_audited_and_the_pass_goes_on(trained_project: Any) -> None:
    # Found by a hostile pass: the audit row was written after the run's clean-up, so a run that
    # someone had deleted (then `mlflow gc`) left the version deleted, unaudited, and the pass
    # stopped before the rows and files.
    import subprocess
    import sys

    p = trained_project
    v2, _v3 = add_version(p), add_version(p)
    run_id = p.registry.get_version(v2).run_id
    p.registry.client.delete_run(run_id)
    uri = p.settings.storage.mlflow_tracking_uri
    gc = [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", uri, "--run-ids", run_id]
    subprocess.run(gc, check=True, capture_output=True, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    now = utcnow() + LATER
    log_prediction(p, "1", now - timedelta(days=100))  # past predictions_days: pruned after the versions

    result = run_gc(p, POLICY, now, actor="test")
    assert result.deleted_versions == (v2,) and result.deleted_predictions == 1
    assert v2 not in {v.version for v in p.registry.list_versions()}
    [audit] = list_actions(p.store, action="gc_delete_version")
    assert (audit["target"], audit["before"]["run_id"]) == (f"version:{v2}", run_id)
    assert list_actions(p.store, action="gc_delete_run") == []  # it was gone: noted in the log only


def test_a_promotion_during_the_pass_saves_the_version_it_reaches(trained_project: Any) -> None:
    p = trained_project
    v2, _v3 = add_version(p), add_version(p)

    def promote_mid_pass(version: str) -> None:
        if version == v2:
            p.registry.set_champion(v2)  # between the plan and the delete

    result = run_gc(p, POLICY, utcnow() + LATER, before_delete=promote_mid_pass)
    assert result.plan.delete_versions == (v2,)
    assert result.deleted_versions == () and result.skipped_versions == ((v2, "alias champion"),)
    assert p.registry.aliases() == {"champion": v2, "previous": "1"}
    assert list_actions(p.store, action="gc_delete_version") == []


def test_rows_and_files_past_their_limits_go(trained_project: Any) -> None:
    p = trained_project
    now = utcnow()
    log_prediction(p, "1", now - timedelta(days=91))
    log_prediction(p, "1", now - timedelta(days=89))
    with p.store.begin() as conn:
        for age in (100, 10):
            conn.execute(
                insert(feedback).values(
                    project=p.store.project,
                    prediction_id=f"x{age}",  # one label per prediction (migration 0008)
                    label=1,
                    received_at=now - timedelta(days=age),
                )
            )
    processed = p.settings.data.landing / ".processed"
    old, new = processed / "old.csv", processed / "new.csv"
    for f in (old, new):
        f.write_text("a\n1\n")
    week_ago = (now - timedelta(days=8)).timestamp()
    os.utime(old, (week_ago, week_ago))

    result = run_gc(p, POLICY, now)
    assert (result.deleted_predictions, result.deleted_feedback) == (1, 1)
    assert str(old) in result.deleted_files and not old.exists() and new.exists()
    with p.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(predictions)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(feedback)).scalar_one() == 1
    assert [a["target"] for a in list_actions(p.store, action="gc_delete_file")] == ["file:old.csv"]


def test_a_late_label_goes_with_its_pruned_prediction(trained_project: Any) -> None:
    p = trained_project
    now = utcnow()
    ids = {}
    for age in (100, 10):
        ids[age] = uuid.uuid4().hex
        with p.store.begin() as conn:
            conn.execute(
                insert(predictions).values(
                    id=ids[age], project=p.store.project, created_at=now - timedelta(days=age),
                    model_version="1", record={}, role="champion",
                )
            )  # fmt: skip
            conn.execute(
                insert(feedback).values(
                    project=p.store.project,
                    prediction_id=ids[age],
                    label=1,
                    received_at=now - timedelta(days=5),
                )
            )
    result = run_gc(p, POLICY, now)
    assert (result.deleted_predictions, result.deleted_feedback) == (1, 1)
    with p.store.connect() as conn:
        assert conn.execute(select(feedback.c.prediction_id)).scalars().all() == [ids[10]]


def test_html_reports_beyond_keep_reports_go_and_their_rows_stay(
    trained_project: Any, tmp_path: Path
) -> None:
    from evergreen.project import Project
    from evergreen.store.tables import drift_reports

    p = trained_project
    paths = []
    with p.store.begin() as conn:
        for age in (2, 1):
            html = tmp_path / f"report-{age}.html"
            html.write_text("<html/>")
            paths.append(html)
            conn.execute(
                insert(drift_reports).values(
                    project=p.store.project, report_date=utcnow() - timedelta(days=age), window="7d",
                    drift_detected=False, html_path=str(html),
                )
            )  # fmt: skip
    s = p.settings
    one_report = s.model_copy(update={"monitoring": s.monitoring.model_copy(update={"keep_reports": 1})})
    result = run_gc(Project(settings=one_report, store=p.store), POLICY, utcnow())
    assert result.deleted_reports == (str(paths[0]),)
    assert not paths[0].exists() and paths[1].exists()
    with p.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(drift_reports)).scalar_one() == 2


def test_the_scheduler_runs_retention_once_when_its_schedule_comes(trained_project: Any) -> None:
    from datetime import datetime

    from evergreen.project import Project
    from evergreen.triggers.scheduler import Scheduler

    p = trained_project
    v2, _v3 = add_version(p), add_version(p)
    s = p.settings
    retention = s.retention.model_copy(
        update={"schedule": "0 3 * * *", "keep_versions": 1, "min_version_age_days": 0, "predictions_days": 0}
    )
    settings = s.model_copy(update={"retention": retention})
    clock = [datetime(2030, 1, 1, 2, 59, tzinfo=utcnow().tzinfo)]
    sched = Scheduler(Project(settings=settings, store=p.store), clock=lambda: clock[0])
    sched.open()
    try:
        assert sched.tick().gc is None  # 02:59: not due yet
        clock[0] = clock[0].replace(hour=3, minute=1)
        assert sched.tick().gc == "ran"
        assert sched.tick().gc is None  # once per schedule
    finally:
        sched.close()
    assert {v.version for v in p.registry.list_versions()} == {"1", _v3}
    assert [a["target"] for a in list_actions(p.store, action="gc_delete_version")] == [f"version:{v2}"]


def test_a_person_cannot_promote_a_version_while_the_pass_deletes_it(trained_project: Any) -> None:
    # Deleting a version silently deletes its aliases in MLflow: a person's promote (or rollback)
    # landing between the pass's re-check and its delete would leave no champion at all. The pass
    # holds the models lease for each version's re-check and delete, so the person is told to wait.
    p = trained_project
    v2, _v3 = add_version(p), add_version(p)
    answers: list[str] = []

    def person_promotes(version: str) -> None:
        try:
            control.promote(p, version, actor="alice", reason="bring it back")
            answers.append("promoted")
        except LockHeldError as exc:
            answers.append(exc.code)

    result = run_gc(p, POLICY, utcnow() + LATER, before_delete=person_promotes)
    assert answers == ["lock_held"]
    assert result.deleted_versions == (v2,)
    assert p.registry.aliases() == {"champion": "1"}  # the champion stands, its alias intact
    with pytest.raises(NotFoundError):
        control.promote(p, v2, actor="alice")  # afterwards: the version is gone, a clear 404
    assert LeaseLock(p.store, models_lock_name(p.settings.project)).current() is None


def test_a_stop_while_the_scheduler_pass_waits_for_the_models_lease_ends_it_deleting_nothing(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIGTERM during the daily pass, while a person's action holds the models lease: the pass stops
    # waiting at once (the scheduler would otherwise sit out AUTOMATED_WAIT_SECONDS per version
    # before exiting) and deletes nothing; it is "stopped", not a failure.
    from datetime import datetime

    from evergreen.project import Project
    from evergreen.retention import apply
    from evergreen.triggers.scheduler import Scheduler

    p = trained_project
    v2, v3 = add_version(p), add_version(p)
    retention = p.settings.retention.model_copy(
        update={"schedule": "0 3 * * *", "keep_versions": 1, "min_version_age_days": 0, "predictions_days": 0}
    )
    settings = p.settings.model_copy(update={"retention": retention})
    clock = [datetime(2030, 1, 1, 2, 59, tzinfo=utcnow().tzinfo)]
    sched = Scheduler(Project(settings=settings, store=p.store), clock=lambda: clock[0])
    # Sitting the wait out would end the pass as "failed" (the lease still held), not "stopped".
    monkeypatch.setattr(apply, "AUTOMATED_WAIT_SECONDS", 2.0)
    person = LeaseLock(p.store, models_lock_name(p.settings.project)).acquire()
    sched.open()
    try:
        assert sched.gc_if_due(clock[0]) is None  # 02:59: not due yet
        sched.stop_flag.requested.set()
        clock[0] = clock[0].replace(hour=3, minute=1)
        assert sched.gc_if_due(clock[0]) == "stopped"
    finally:
        sched.close()
        person.release()
    assert {v.version for v in p.registry.list_versions()} == {"1", v2, v3}
    assert list_actions(p.store, action="gc_delete_version") == []


def test_versions_another_tool_registered_go_by_the_rules_and_only_evergreens_runs_go_with_them(
    trained_project: Any, tmp_path: Path
) -> None:
    # Found by a hostile pass: a version registered under evergreen's model name from another tool's
    # run (its own experiment) was deleted by the rules, and its run and every file of that run with
    # it: evergreen deleted what it never made.
    p = trained_project
    reg, client = p.registry, p.registry.client
    theirs = client.create_experiment("another-tool", artifact_location=(tmp_path / "theirs").as_uri())
    run = client.create_run(theirs).info
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("theirs")
    client.log_artifacts(run.run_id, str(tmp_path / "model"), "model")
    their_files = Path(run.artifact_uri.removeprefix("file://")) / "model" / "notes.txt"
    from_their_run = str(
        client.create_model_version(
            reg.model_name, source=f"{run.artifact_uri}/model", run_id=run.run_id
        ).version
    )
    champion_source = reg.get_version("1").source
    # By hand onto the champion's own files, no run, no evergreen tags.
    on_champion_files = str(client.create_model_version(reg.model_name, source=champion_source).version)
    newest = add_version(p)

    result = run_gc(p, POLICY, utcnow() + LATER, actor="test")
    assert result.deleted_versions == (from_their_run, on_champion_files) and result.skipped_versions == ()
    assert {v.version for v in reg.list_versions()} == {"1", newest}
    assert client.get_run(run.run_id).info.lifecycle_stage == "active" and their_files.read_text() == "theirs"
    assert list_actions(p.store, action="gc_delete_run") == []
    assert len(list_actions(p.store, action="gc_delete_version")) == 2
    assert reg.aliases() == {"champion": "1"}
    assert Path(champion_source.removeprefix("file://")).is_dir()
    assert reg.load_model("1") is not None  # its files intact: sha256 and all


def test_a_version_deleted_by_hand_during_the_pass_is_skipped_and_the_pass_goes_on(
    trained_project: Any,
) -> None:
    # Found by a hostile pass: the re-check raised NotFoundError out of run_gc, and the rows and
    # files of the pass were never pruned.
    p = trained_project
    v2, v3, _v4 = add_version(p), add_version(p), add_version(p)
    now = utcnow() + LATER
    log_prediction(p, "1", now - timedelta(days=100))

    def delete_by_hand(version: str) -> None:
        if version == v2:
            p.registry.client.delete_model_version(p.registry.model_name, v2)

    result = run_gc(p, POLICY, now, actor="test", before_delete=delete_by_hand)
    assert result.plan.delete_versions == (v2, v3)
    assert result.deleted_versions == (v3,) and result.skipped_versions == ((v2, "deleted meanwhile"),)
    assert result.deleted_predictions == 1
    assert [a["target"] for a in list_actions(p.store, action="gc_delete_version")] == [f"version:{v3}"]
    assert p.registry.aliases() == {"champion": "1"}


def test_the_experiment_unreadable_during_the_pass_leaves_runs_and_the_pass_goes_on(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a review: the experiment was read outside the clean-up's try, so an MLflow error
    # there (a tracking server gone for a moment) escaped run_gc after the first version was deleted
    # and audited: the other versions, the rows and the files were never pruned.
    from mlflow.exceptions import MlflowException

    p = trained_project
    v2, v3, _v4 = add_version(p), add_version(p), add_version(p)
    now = utcnow() + LATER
    log_prediction(p, "1", now - timedelta(days=100))
    runs = {v: p.registry.get_version(v).run_id for v in (v2, v3)}

    def unreadable(name: str) -> Any:
        raise MlflowException(f"experiment {name}: the tracking server did not answer")

    def tracking_server_gone(version: str) -> None:
        p.registry._experiment_id = None  # a process that had not read it yet
        monkeypatch.setattr(p.registry.client, "get_experiment_by_name", unreadable)

    result = run_gc(p, POLICY, now, actor="test", before_delete=tracking_server_gone)
    assert result.deleted_versions == (v2, v3) and result.deleted_predictions == 1
    assert len(list_actions(p.store, action="gc_delete_version")) == 2
    assert list_actions(p.store, action="gc_delete_run") == []  # not known to be ours: left
    monkeypatch.undo()
    assert {p.registry.client.get_run(r).info.lifecycle_stage for r in runs.values()} == {"active"}


def test_gc_does_not_create_the_experiment_when_it_is_gone(trained_project: Any) -> None:
    # The registry's experiment_id creates the experiment when it is missing: gc must only look.
    p = trained_project
    reg, client = p.registry, p.registry.client
    v2, _v3 = add_version(p), add_version(p)
    run_id = reg.get_version(v2).run_id
    client.rename_experiment(reg.experiment_id, "renamed-by-hand")
    reg._experiment_id = None

    result = run_gc(p, POLICY, utcnow() + LATER, actor="test")
    assert result.deleted_versions == (v2,)
    assert client.get_experiment_by_name(reg.model_name) is None
    assert client.get_run(run_id).info.lifecycle_stage == "active"  # in no experiment of ours: left
    assert list_actions(p.store, action="gc_delete_run") == []
