"""The pure parts of the loop-state exporter: rows in, exact values out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from evergreen.observability.collector import LoopStateCollector, loop_state_families
from evergreen.observability.state import (
    LoopState,
    RunsState,
    alert_counts,
    champion_from_actions,
    consecutive_failures,
    drift_state,
    performance_values,
    runs_state,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def action(minute: int, before: str | None, after: str | None) -> dict[str, object]:
    return {
        "before": {"champion": before},
        "after": {"champion": after, "previous": before},
        "at": at(minute),
    }


def test_champion_is_the_newest_after_and_its_time_the_move_to_it() -> None:
    rows = [  # newest first, as the query orders them
        {"before": {"champion": "3"}, "after": {"champion": "3"}, "at": at(50)},  # a rejection
        {"before": None, "after": None, "at": at(45)},  # an action without champion (ack)
        action(40, "2", "3"),
        action(30, "3", "2"),  # rollback
        action(20, "2", "3"),
        action(10, None, "2"),
    ]
    assert champion_from_actions(rows) == ("3", at(40))


def test_champion_without_any_move_seen_dates_from_the_oldest_row_naming_it() -> None:
    rows = [{"before": {"champion": "7"}, "after": {"champion": "7"}, "at": at(m)} for m in (30, 20, 10)]
    assert champion_from_actions(rows) == ("7", at(10))
    assert champion_from_actions([]) == (None, None)
    assert champion_from_actions(
        [{"before": {"champion": None}, "after": {"champion": None}, "at": at(1)}]
    ) == (
        None,
        None,
    )


def test_consecutive_failures_skip_neutral_runs_and_stop_at_a_completed_one() -> None:
    assert (
        consecutive_failures(["failed", "skipped", "abandoned", "running", "failed", "rejected", "failed"])
        == 3
    )
    assert consecutive_failures(["promoted", "failed"]) == 0
    assert consecutive_failures([]) == 0


def test_runs_state_takes_the_newest_finished_run_of_each_status() -> None:
    recent = [
        {"status": "running", "started_at": at(60), "finished_at": None},
        {"status": "failed", "started_at": at(40), "finished_at": at(41)},
        {"status": "promoted", "started_at": at(20), "finished_at": at(23)},
        {"status": "promoted", "started_at": at(0), "finished_at": at(10)},
    ]
    s = runs_state({"promoted": 2, "failed": 1, "running": 1}, recent)
    assert s.last_duration_seconds == {"failed": 60.0, "promoted": 180.0}
    assert s.last_finished == {"failed": at(41), "promoted": at(23)}
    assert s.consecutive_failures == 1


def test_performance_values_take_the_watched_metric_and_its_bands() -> None:
    perf = {
        "metric": "f1_macro",
        "baseline": 0.9,
        "realised": None,
        "estimated": 0.81,
        "sigma": 0.02,  # the judged value's: repeated in metric_bands
        "lower": 0.75,
        "threshold": 0.05,
        "drop": 0.09,
        "labelled_rows": 12,
        "metric_bands": {
            "f1_macro": {
                "estimated": {"value": 0.81, "sigma": 0.02, "lower": 0.75, "upper": 0.87},
                "realised": {"value": 0.7, "sigma": None, "lower": None, "upper": None},
            },
            "accuracy": {"estimated": {"value": 0.9, "sigma": 0.01, "lower": 0.87, "upper": 0.93}},
        },
    }
    assert performance_values(perf) == {
        "baseline": 0.9,
        "estimated": 0.81,
        "estimated_sigma": 0.02,
        "estimated_lower": 0.75,
        "estimated_upper": 0.87,
    }
    assert performance_values({"realised": 0.5, "estimated": float("inf"), "metric_bands": None}) == {
        "realised": 0.5
    }


def _report_row() -> dict[str, object]:
    return {
        "window": "7d",
        "report_date": T0.replace(tzinfo=None),  # SQLite hands back naive datetimes
        "current_rows": 800,
        "data_drift_score": 0.4,
        "prediction_drift_score": None,
        "performance_drift_score": 0.09,
        "drift_detected": True,
        "details": {
            "data_drift": {
                "share": 0.4,
                "drift_share": 0.3,
                "columns": {
                    "tenure": {"method": "ks", "score": 0.001, "threshold": 0.05, "drifted": True},
                    "plan": {"method": "chisquare", "score": None, "threshold": 0.05, "drifted": True},
                    "region": {"method": "psi", "score": 0.02, "threshold": 0.1, "drifted": False},
                },
            },
            "status": "insufficient_data",
            "multivariate_drift": {"auc": 0.62, "threshold": 0.55, "drifted": True},
            "performance": {
                "metric": "f1_macro",
                "baseline": 0.9,
                "estimated": 0.81,
                "threshold": 0.05,
                "degraded": True,
            },
        },
    }


def test_drift_state_reads_a_report_row_and_skips_non_finite_columns() -> None:
    d = drift_state(_report_row())
    assert (d.window, d.report_date, d.rows, d.share, d.share_threshold, d.detected) == (
        "7d",
        T0,
        800,
        0.4,
        0.3,
        True,
    )
    assert d.scores == {"data_drift_score": 0.4, "performance_drift_score": 0.09}
    assert [(c.column, c.method, c.score, c.threshold, c.drifted) for c in d.columns] == [
        ("region", "psi", 0.02, 0.1, False),
        ("tenure", "ks", 0.001, 0.05, True),
    ]
    assert (d.performance_metric, d.performance, d.performance_threshold, d.performance_degraded) == (
        "f1_macro",
        {"baseline": 0.9, "estimated": 0.81},
        0.05,
        True,
    )
    assert (d.tested, d.multivariate_auc, d.multivariate_threshold) == (False, 0.62, 0.55)
    empty = drift_state({"window": "30d", "report_date": T0, "details": None})
    assert (empty.columns, empty.share, empty.performance_metric, empty.tested) == ((), None, None, None)


def test_alert_counts_fill_every_level_and_status() -> None:
    counts = alert_counts([("alert", "open", 2), ("critical", "acknowledged", 1), ("alert", "resolved", 9)])
    assert counts[("alert", "open")] == 2 and counts[("critical", "acknowledged")] == 1
    assert sum(counts.values()) == 3 and len(counts) == 8


def _state() -> LoopState:
    return LoopState(
        champion_version="3",
        champion_since=at(0),
        last_decision=("rejected", at(30)),
        decisions={"promoted": 3, "rejected": 1},
        runs=RunsState({"promoted": 3, "failed": 2}, {"promoted": 12.5}, {"promoted": at(20)}, 2),
        drift=(drift_state(_report_row()),),
        alerts=alert_counts([("warning", "open", 1)]),
        scheduler_lease_expires=at(61),
        retrain_lease_expires=at(59),
        last_prediction_at=at(58),
        pending_approvals=1,
    )


def _samples(metrics: list) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in metrics for s in m.samples}


def test_families_export_exact_values_with_the_project_label() -> None:
    now = at(60).timestamp()
    got = _samples(loop_state_families(_state(), "churn", {"data_drift_score": {"alert": 0.2}}, now))
    p = (("project", "churn"),)
    assert got[("evergreen_champion_version", p)] == 3.0
    assert got[("evergreen_champion_age_seconds", p)] == 3600.0
    assert (
        got[("evergreen_last_decision_timestamp_seconds", (("outcome", "rejected"), *p))]
        == at(30).timestamp()
    )
    assert got[("evergreen_decisions_total", (("outcome", "promoted"), *p))] == 3
    assert got[("evergreen_retrain_runs_total", (("project", "churn"), ("status", "failed")))] == 2
    assert got[("evergreen_retrain_consecutive_failures", p)] == 2
    assert got[("evergreen_retrain_running", p)] == 0.0  # its lease ran out a minute ago
    assert got[("evergreen_scheduler_up", p)] == 1.0
    w7 = (("project", "churn"), ("window", "7d"))
    assert got[("evergreen_drift_share", w7)] == 0.4
    assert got[("evergreen_drift_report_tested", w7)] == 0.0
    assert got[("evergreen_multivariate_drift_auc", w7)] == 0.62
    assert got[("evergreen_multivariate_drift_threshold", w7)] == 0.55
    col = (("column", "tenure"), ("method", "ks"), ("project", "churn"), ("window", "7d"))
    assert got[("evergreen_column_drift_score", col)] == 0.001
    assert got[("evergreen_column_drift_threshold", col)] == 0.05
    assert got[("evergreen_column_drifted", col)] == 1.0
    perf = (("kind", "estimated"), ("metric", "f1_macro"), ("project", "churn"), ("window", "7d"))
    assert got[("evergreen_performance", perf)] == 0.81
    level = (("level", "alert"), ("project", "churn"), ("score", "data_drift_score"))
    assert got[("evergreen_drift_score_level_threshold", level)] == 0.2
    assert got[("evergreen_alerts", (("level", "warning"), ("project", "churn"), ("status", "open")))] == 1


class _FlakyReader:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self) -> LoopState:
        self.calls += 1
        if self.fail:
            raise RuntimeError("database is down")
        return _state()


def test_collector_reads_once_per_ttl_and_keeps_the_last_state_when_the_database_is_down() -> None:
    import structlog

    # The failed read is logged; a CLI test earlier in the process may have left structlog printing to
    # a captured stream that is closed by now (logs.configure_logging binds sys.stderr at call time).
    structlog.reset_defaults()
    reader = _FlakyReader()
    c = LoopStateCollector(
        reader, project="churn", levels={}, ttl_seconds=3600, clock=lambda: at(60).timestamp()
    )
    registry = CollectorRegistry()
    registry.register(c)
    assert reader.calls == 0  # registering does not read
    for _ in range(3):
        generate_latest(registry)
    assert reader.calls == 1
    reader.fail = True
    c.ttl = 0
    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert reader.calls == 2
    assert families["evergreen_metadata_db_up"].samples[0].value == 0.0
    assert families["evergreen_state_read_errors"].samples[0].value == 1.0
    assert families["evergreen_champion_version"].samples[0].value == 3.0  # the last state read
