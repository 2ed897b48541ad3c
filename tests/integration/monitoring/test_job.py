"""run_monitoring on real prediction and feedback rows, MLflow and SQLite / PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score
from sqlalchemy import JSON, Integer, String, insert, select, text, update

from evergreen.data.ingest import ingest_paths
from evergreen.errors import BadInputError, NotFoundError
from evergreen.examples import churn
from evergreen.monitoring import data_drift
from evergreen.monitoring.job import run_monitoring, run_scheduled_monitoring
from evergreen.monitoring.reference import build_reference
from evergreen.monitoring.report import list_reports
from evergreen.project import Project
from evergreen.store.tables import decisions, drift_reports, feedback, predictions
from tests.support.monitoring import log_predictions

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite hands back the JSON text


def _recompute(project: Any, start: datetime, end: datetime, version: str) -> tuple[float, float, int]:
    """Accuracy and macro F1 from the raw rows, written without any evergreen code."""
    sql = text(
        "SELECT p.id AS pid, p.prediction AS prediction, f.label AS label, f.id AS fid "
        "FROM predictions p JOIN feedback f ON f.prediction_id = p.id "
        "WHERE p.project = :project AND p.role = 'champion' AND p.model_version = :version "
        "AND p.created_at > :start AND p.created_at <= :end"
    ).columns(pid=String, prediction=JSON, label=JSON, fid=Integer)  # JSON decoded the same on both DBs
    latest: dict[str, tuple[int, Any, Any]] = {}
    with project.store.connect() as conn:
        for r in conn.execute(
            sql, {"project": project.store.project, "version": version, "start": start, "end": end}
        ):
            if r.pid not in latest or r.fid > latest[r.pid][0]:
                latest[r.pid] = (r.fid, r.prediction, r.label)
    y_pred = [v[1] for v in latest.values()]
    y_true = [v[2] for v in latest.values()]
    return accuracy_score(y_true, y_pred), f1_score(y_true, y_pred, average="macro"), len(latest)


def test_realised_performance_is_recomputed_from_prediction_and_feedback_rows(
    any_db_trained_project: Any,
) -> None:
    project = any_db_trained_project
    live = churn.make_batch(3, 600, drifted=False, seed=21)
    written = log_predictions(project, live, end=NOW - timedelta(hours=1), labelled=0.7, seed=1)
    log_predictions(
        project, churn.make_batch(4, 200, drifted=True), end=NOW - timedelta(days=9), seed=2
    )  # too old
    log_predictions(project, live.head(100), end=NOW, role="shadow", seed=3)  # another model's outputs
    other = log_predictions(project, churn.make_batch(5, 50, drifted=False), end=NOW, labelled=1.0, seed=4)
    labelled = written[written["label"].notna()]
    corrections = [
        {
            "project": project.store.project,
            "prediction_id": pid,
            "label": "yes" if lab == "no" else "no",
            "received_at": NOW,
        }
        for pid, lab in zip(labelled["id"][:25], labelled["label"][:25], strict=True)
    ]
    with project.store.begin() as conn:
        # Newer feedback corrects the first label: one label per prediction, the newest kept
        # (serving.feedback_relabel: latest replaces the row in place).
        for c in corrections:
            conn.execute(
                update(feedback)
                .where(feedback.c.project == c["project"], feedback.c.prediction_id == c["prediction_id"])
                .values(label=c["label"], received_at=c["received_at"])
            )
        conn.execute(
            update(predictions).where(predictions.c.id.in_(other["id"].tolist())).values(model_version="0")
        )  # served by an earlier champion

    report = run_monitoring(project, "7d", now=NOW)

    accuracy, f1_macro, n = _recompute(project, NOW - timedelta(days=7), NOW, "1")
    assert n == len(labelled) == report.performance.labelled_rows
    assert report.realised_metrics["accuracy"] == accuracy
    assert report.realised_metrics["f1_macro"] == pytest.approx(f1_macro, abs=1e-15)
    assert report.performance.realised == report.realised_metrics["f1_macro"]
    assert report.current_rows == 650 and report.performance.rows == 600
    assert any("50 rows served by other versions (0)" in note for note in report.notes)
    # The baseline is the champion's holdout value recorded by the retrain's decision.
    assert report.performance.baseline_source == "decisions"
    with project.store.connect() as conn:
        row = conn.execute(select(drift_reports).where(drift_reports.c.id == report.id)).mappings().one()
        stored = conn.execute(
            select(decisions.c.candidate_metrics).where(decisions.c.candidate_version == "1")
        ).scalar_one()
    assert report.performance.baseline == _json(stored)["f1_macro"]
    assert (row["data_drift_score"], row["prediction_drift_score"], row["performance_drift_score"]) == (
        report.data_drift_score,
        report.prediction_drift_score,
        report.performance.score,
    )
    assert (
        row["drift_detected"] == report.drift_detected
        and row["window"] == "7d"
        and row["current_rows"] == 650
    )
    details = _json(row["details"])
    assert details == json.loads(json.dumps(report.details(), allow_nan=False))
    for name, col in details["data_drift"]["columns"].items():
        assert {"method", "statistic", "p_value", "threshold", "drifted"} <= set(col), name
    assert set(details["data_drift"]["columns"]) == {
        "tenure",
        "monthly_fee",
        "support_calls",
        "plan",
        "region",
        "last_ticket",
    }
    html = Path(row["html_path"]).read_text(encoding="utf-8")
    assert html.count("<svg") == 6 + len(details["prediction_drift"]["columns"])


def test_scheduled_job_reports_both_windows_and_prunes_html(trained_project: Any) -> None:
    s = trained_project.settings
    project = Project(
        settings=s.model_copy(update={"monitoring": s.monitoring.model_copy(update={"keep_reports": 3})}),
        store=trained_project.store,
    )
    log_predictions(project, churn.make_batch(3, 300, drifted=False), end=NOW - timedelta(days=1), seed=1)
    log_predictions(project, churn.make_batch(4, 200, drifted=False), end=NOW - timedelta(days=20), seed=2)

    first = run_scheduled_monitoring(project, NOW)
    assert [(r.window, r.current_rows) for r in first] == [("7d", 300), ("30d", 500)]
    assert first[1].window_start == NOW - timedelta(days=30) and first[1].window_end == NOW
    second = run_scheduled_monitoring(project, NOW + timedelta(hours=6))
    stored = list_reports(project.store)
    assert [r["id"] for r in stored] == [r.id for r in reversed(first + second)]
    # keep_reports=3: the oldest report lost its file, its row stays with the path cleared.
    assert [r["html_path"] is not None for r in stored] == [True, True, True, False]
    assert not Path(first[0].html_path or "").exists()
    assert len(list(s.storage.reports_dir.glob("*.html"))) == 3
    # A window with no rows is skipped, not an error, on a schedule; on the command line it is one.
    later = run_scheduled_monitoring(project, NOW + timedelta(days=25))
    assert [r.window for r in later] == ["30d"]
    with pytest.raises(BadInputError, match="no champion predictions in the 24h window"):
        run_monitoring(project, "24h", now=NOW + timedelta(days=25))


def test_a_scheduled_window_that_fails_costs_the_others_nothing(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault in the 7d window's analysis (injected: no real data makes one window fail alone any
    more) still leaves the 30d window its stored report, and the pass is raised as failed."""
    from evergreen.monitoring import job

    log_predictions(
        trained_project, churn.make_batch(3, 300, drifted=False), end=NOW - timedelta(days=1), seed=1
    )
    real = job.run_monitoring

    def seven_days_fails(project: Any, window: str, **kw: Any) -> Any:
        if window == "7d":
            raise RuntimeError("injected fault in the 7d window")
        return real(project, window, **kw)

    monkeypatch.setattr(job, "run_monitoring", seven_days_fails)
    with pytest.raises(RuntimeError, match="injected fault"):
        run_scheduled_monitoring(trained_project, NOW)
    assert [(r["window"], r["current_rows"]) for r in list_reports(trained_project.store)] == [("30d", 300)]


def test_batch_window_scores_the_snapshot_with_the_champion(trained_project: Any, tmp_path: Path) -> None:
    path = tmp_path / "drifted.csv"
    churn.make_batch(6, 800, drifted=True).to_csv(path, index=False)
    (result,) = ingest_paths(trained_project.settings, trained_project.store, [path])
    report = run_monitoring(trained_project, f"batch:{result.batch_id}", now=NOW)
    assert report.window == f"batch:{result.batch_id}" and report.window_start is None
    assert report.current_rows == 800 and report.performance.labelled_rows == 800
    assert report.data_drift["monthly_fee"].drifted  # fees rose 15%
    assert report.performance.source == "realised" and report.performance.degraded  # the concept changed
    assert report.notes == []
    inside = run_monitoring(trained_project, "batch:1", now=NOW)
    assert any("part of the champion's dataset" in n for n in inside.notes)
    with pytest.raises(NotFoundError):
        run_monitoring(trained_project, "batch:999", now=NOW)


def test_no_champion_is_a_clear_error_and_skips_the_schedule(churn_project: Any) -> None:
    with pytest.raises(NotFoundError, match="no champion model yet"):
        run_monitoring(churn_project, "7d", now=NOW)
    assert run_scheduled_monitoring(churn_project, NOW) == []


def test_drift_reports_table_matches_its_migration(store: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from evergreen.store.tables import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "drift_reports" in repr(d)] == []


def test_the_report_the_trigger_and_the_alert_agree_on_the_floor(trained_project: Any) -> None:
    from evergreen.alerts.facts import DriftFact, Facts
    from evergreen.alerts.rules import RuleConfig
    from evergreen.alerts.rules import evaluate as evaluate_alerts
    from evergreen.triggers.evaluate import evaluate as evaluate_triggers
    from evergreen.triggers.state import gather_state

    s = trained_project.settings
    # A floor no live value can reach: the trigger and the alert act on it, so the report must too.
    triggers = s.triggers.model_copy(
        update={"performance": s.triggers.performance.model_copy(update={"metric": "f1_macro", "min": 0.999})}
    )
    project = Project(settings=s.model_copy(update={"triggers": triggers}), store=trained_project.store)
    now = datetime.now(UTC) + timedelta(days=1)  # after the fixture's retrain and its cooldown
    log_predictions(project, churn.make_batch(3, 600, drifted=False, seed=21), end=now, labelled=1.0, seed=1)
    report = run_monitoring(project, "7d", now=now)
    perf = report.performance
    assert perf.source == "realised" and perf.drop is not None and perf.drop < 0.05  # no drop to speak of
    assert perf.upper is not None and perf.upper < 0.999
    state = gather_state(project, now - timedelta(days=1))
    firings = evaluate_triggers(state, project.settings.triggers, now).firings
    fact = DriftFact.from_row(list_reports(project.store)[0])
    alerts = evaluate_alerts(Facts(drift=(fact,)), RuleConfig.from_settings(project.settings)).active
    assert [f.kind for f in firings if f.kind == "performance"] == ["performance"]
    assert [a.kind for a in alerts if a.kind == "performance"] == ["performance"]
    assert perf.verdict == "degraded" and report.drift_detected is True  # was "ok": they disagreed
    assert perf.floor == 0.999


def test_a_classifier_without_probabilities_still_gets_a_band(tmp_path: Path) -> None:
    from tests.support.monitoring import train_project

    project = train_project(
        tmp_path / "svc",
        rows=1000,
        training={"candidates": ["tests.support.candidates:linear_svc"]},
        promotion={"min_metrics": {}},
    )
    ref = build_reference(project)
    assert ref.classes is None  # no predict_proba: nothing for CBPE
    now = datetime.now(UTC)
    log_predictions(project, churn.make_batch(3, 600, drifted=False, seed=21), end=now, labelled=0.5, seed=1)
    report = run_monitoring(project, "7d", now=now, reference=ref)
    perf = report.performance
    assert perf.source == "realised" and report.estimated_metrics == {}
    # Was None: the band was the value itself, so any drop over performance_drop was "degraded".
    assert perf.sigma is not None and perf.sigma > 0
    assert ref.estimator is not None and ref.estimator.calibrator is None
    scale = ref.estimator.scales[perf.metric]
    assert perf.sigma == pytest.approx(scale / perf.labelled_rows**0.5, abs=1e-15)
    assert perf.lower == pytest.approx(perf.realised - 3 * perf.sigma, abs=1e-12)


def test_a_batch_window_of_a_classifier_without_probabilities_is_measured(tmp_path: Path) -> None:
    from tests.support.monitoring import train_project

    project = train_project(
        tmp_path / "svc",
        rows=1000,
        training={"candidates": ["tests.support.candidates:linear_svc"]},
        promotion={"min_metrics": {}},
    )
    path = tmp_path / "drifted.csv"
    churn.make_batch(6, 800, drifted=True).to_csv(path, index=False)
    (result,) = ingest_paths(project.settings, project.store, [path])
    report = run_monitoring(project, f"batch:{result.batch_id}", now=NOW)
    perf = report.performance
    # Was 0 labelled rows and no prediction drift: labels and predictions were all mapped to None.
    assert perf.labelled_rows == 800 and perf.source == "realised" and perf.sigma is not None
    assert report.prediction_drift is not None and report.prediction_drift.columns


def test_a_window_across_a_change_of_input_schema_says_what_it_compared(any_db_trained_project: Any) -> None:
    from evergreen.monitoring.columns import coerce_features

    project = any_db_trained_project
    before = churn.make_batch(3, 600, drifted=False, seed=21)
    after = churn.make_batch(4, 600, drifted=False, seed=22)
    old = log_predictions(project, before, end=NOW - timedelta(days=2), seed=1)
    new = log_predictions(project, after, end=NOW - timedelta(hours=1), seed=2)
    with project.store.begin() as conn:
        # Before the swap, v0's clients sent support_calls as text; v1's schema has no monthly_fee.
        for pid, calls in zip(old["id"], before["support_calls"], strict=True):
            record = dict(
                conn.execute(select(predictions.c.record).where(predictions.c.id == pid)).scalar_one()
            )
            record["support_calls"] = f"{calls} calls"
            conn.execute(
                update(predictions).where(predictions.c.id == pid).values(record=record, model_version="0")
            )
        for pid in new["id"]:
            record = dict(
                conn.execute(select(predictions.c.record).where(predictions.c.id == pid)).scalar_one()
            )
            del record["monthly_fee"]
            conn.execute(update(predictions).where(predictions.c.id == pid).values(record=record))
        # Feedback that is not a class of the model (a label store written by another tool).
        conn.execute(
            update(feedback)
            .where(feedback.c.prediction_id.in_(new["id"][:90].tolist()))
            .values(label="maybe")
        )

    ref = build_reference(project)
    report = run_monitoring(project, "7d", now=NOW, reference=ref)

    assert report.notes == [
        "monthly_fee: no values in the rows served by v1 (600 rows): its drift rests on the other "
        "versions' rows only",
        "support_calls: 600 of 1200 values are not finite numbers (v0: 600), read as missing",
        "600 rows served by other versions (0) count for input drift only",
        "90 of 600 labels are not classes of the model or its contract: left out of the realised metrics",
        "multivariate drift tested on the 600 of 1200 rows without a value read as missing",
    ]
    # Each column is compared on the rows that carry it, and nothing else.
    kinds = {"monthly_fee": "numeric", "support_calls": "numeric"}
    alone = data_drift(
        ref.features[list(kinds)],
        coerce_features(pd.concat([before[["monthly_fee"]], after[["support_calls"]]], axis=1), kinds),
        kinds=kinds,  # type: ignore[arg-type]
    )
    for name in kinds:
        assert report.data_drift[name].statistic == alone[name].statistic, name
    assert report.performance.labelled_rows == 510 and report.current_rows == 1200
    stored = list_reports(project.store)[0]
    assert _json(stored["details"])["notes"] == report.notes
    assert Path(stored["html_path"]).read_text(encoding="utf-8").count("90 of 600 labels") == 1


def test_values_the_contract_refuses_are_read_as_missing_fire_no_retrain_and_are_told(tmp_path: Path) -> None:
    from evergreen.alerts.facts import DriftFact, Facts
    from evergreen.alerts.rules import RuleConfig
    from evergreen.alerts.rules import evaluate as evaluate_alerts
    from evergreen.triggers.evaluate import evaluate as evaluate_triggers
    from evergreen.triggers.state import gather_state
    from tests.support.monitoring import train_project

    project = train_project(
        tmp_path / "ranges",
        data={"ranges": {"tenure": [0, 600]}, "categories": {"plan": ["basic", "standard", "premium"]}},
    )
    now = datetime.now(UTC) + timedelta(days=1)  # after the fixture's retrain and its cooldown
    live = churn.make_batch(3, 900, drifted=False, seed=21)
    written = log_predictions(project, live, end=now, labelled=1.0, seed=1)
    with project.store.begin() as conn:
        # A client bug: a third of the rows carry tenure 1e308 (finite: the serving schema takes it),
        # a fifth an empty plan; ingest refuses both, so the reference holds neither.
        for i, pid in enumerate(written["id"]):
            record = dict(
                conn.execute(select(predictions.c.record).where(predictions.c.id == pid)).scalar_one()
            )
            if i % 3 == 0:
                record["tenure"] = 1e308
            if i % 5 == 0:
                record["plan"] = ""
            conn.execute(update(predictions).where(predictions.c.id == pid).values(record=record))

    ref = build_reference(project)
    report = run_monitoring(project, "7d", now=now, reference=ref)

    assert report.notes == [
        "tenure: 300 of 900 values are outside the contract's range [0, 600] (data.ranges), read as missing",
        "plan: 180 of 900 values are categories the contract does not take (data.categories), "
        "read as missing",
        "multivariate drift tested on the 480 of 900 rows without a value read as missing",
    ]
    # Compared on the valid values alone; both columns drifted on the garbage (1e308, "").
    valid = live[[i % 3 != 0 for i in range(900)]]
    assert report.data_drift["tenure"].statistic == pytest.approx(
        data_drift(ref.features[["tenure"]], valid[["tenure"]], kinds={"tenure": "numeric"})[
            "tenure"
        ].statistic,
        abs=1e-15,
    )
    assert not report.data_drift["tenure"].drifted and not report.data_drift["plan"].drifted
    # The classifier told the sides apart by the values read as missing alone (AUC 0.73: drift).
    assert report.multivariate_drift is not None and not report.multivariate_drift.drifted
    assert report.drift_detected is False
    state = gather_state(project, now - timedelta(days=1))
    assert [f.kind for f in evaluate_triggers(state, project.settings.triggers, now).firings] == []
    # No drift alert; a person is told what the client sent instead (counts, never the values).
    assert report.details()["invalid_inputs"] == {
        "tenure": [{"count": 300, "what": "outside the contract's range [0, 600] (data.ranges)"}],
        "plan": [{"count": 180, "what": "categories the contract does not take (data.categories)"}],
    }
    fact = DriftFact.from_row(list_reports(project.store)[0])
    alerts = evaluate_alerts(Facts(drift=(fact,)), RuleConfig.from_settings(project.settings)).active
    assert [(a.kind, a.level, a.details["columns"]) for a in alerts] == [
        ("data_quality", "warning", {"tenure": 300, "plan": 180})
    ]


def test_a_category_field_of_ids_drifts_and_the_report_says_why(trained_project: Any) -> None:
    live = churn.make_batch(3, 3000, drifted=False, seed=21)
    live["region"] = [f"cust-{i:05d}" for i in range(3000)]  # a client sends an id in a category field
    log_predictions(trained_project, live, end=NOW, spacing=timedelta(seconds=30), seed=1)

    report = run_monitoring(trained_project, "7d", now=NOW)

    assert report.notes == ["region: 3000 of 3000 values are categories the reference never had"]
    assert report.data_drift["region"].drifted  # a real change of input, now explained
    # 3000 distinct values: the stored details and the page stay the size of a few categories.
    assert len(json.dumps(report.details())) < 20_000
    page = Path(report.html_path or "").read_text(encoding="utf-8")
    # 12 bars (the reference's 4 regions and 8 ids), two rects each; the other ids as "(other)".
    assert page.count("<title>cust-") == 2 * 8 and page.count("<title>(other)") == 2


def test_labels_of_one_class_only_are_reported_not_judged(trained_project: Any) -> None:
    from evergreen.alerts.facts import DriftFact, Facts
    from evergreen.alerts.rules import RuleConfig
    from evergreen.alerts.rules import evaluate as evaluate_alerts
    from evergreen.triggers.evaluate import evaluate as evaluate_triggers
    from evergreen.triggers.state import gather_state

    project = trained_project
    now = datetime.now(UTC) + timedelta(days=1)  # after the fixture's retrain and its cooldown
    live = churn.make_batch(3, 600, drifted=False, seed=21)
    written = log_predictions(project, live, end=now, labelled=0.0, seed=1)
    churned = [pid for pid, label in zip(written["id"], live["churned"], strict=True) if label == "yes"]
    with project.store.begin() as conn:
        # A churn is known at once, a stay only when the contract period ends: the first labels
        # of a window are all "yes".
        conn.execute(
            insert(feedback),
            [
                {"project": project.store.project, "prediction_id": p, "label": "yes", "received_at": now}
                for p in churned
            ],
        )

    report = run_monitoring(project, "7d", now=now)

    perf = report.performance
    assert report.notes == [
        f"realised metrics not judged: the {len(churned)} labels hold no row of class no, so they do not "
        "describe the mix the holdout baseline was measured on; the verdict rests on the estimate"
    ]
    # Still reported; f1_macro scored the absent "no" as 0 and read as a collapse (was "degraded").
    assert report.realised_metrics["f1_class_no"] == 0.0 and perf.labelled_rows == len(churned)
    assert perf.realised is None and perf.source == "estimated"
    assert perf.estimated == report.estimated_metrics["f1_macro"] and perf.verdict == "ok"
    state = gather_state(project, now - timedelta(days=1))
    assert [f.kind for f in evaluate_triggers(state, project.settings.triggers, now).firings] == []
    fact = DriftFact.from_row(list_reports(project.store)[0])
    alerts = evaluate_alerts(Facts(drift=(fact,)), RuleConfig.from_settings(project.settings)).active
    assert [a.kind for a in alerts if a.kind == "performance"] == []
