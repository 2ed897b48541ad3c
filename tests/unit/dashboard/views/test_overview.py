"""The Overview's model from plain inputs: champion metric from its own decision, alerts by severity."""

from __future__ import annotations

from evergreen.dashboard.views.overview import build_overview, live_performance

REPORT = {
    "id": 7,
    "report_date": "2026-01-08T00:00:00+00:00",
    "details": {
        "performance": {
            "degraded": True,
            "baseline_metrics": {"f1_macro": 0.8},
            "realised_metrics": {"f1_macro": 0.6},
            "estimated_metrics": {"f1_macro": 0.65},
            "metric_bands": {
                "f1_macro": {
                    "realised": {"value": 0.6, "sigma": 0.02, "lower": 0.54, "upper": 0.66},
                    "estimated": {"value": 0.65, "sigma": None, "lower": 0.65, "upper": 0.65},
                }
            },
        }
    },
}


def test_overview_numbers() -> None:
    view = build_overview(
        champion={"version": "4", "dataset_version": "abc"},
        champion_since="2026-01-01T00:00:00+00:00",
        champion_decision={"candidate_version": "4", "candidate_metrics": {"f1_macro": 0.81}},
        metric="f1_macro",
        newest_run={
            "id": "r9",
            "trigger": "drift",
            "status": "rejected",
            "started_at": "2026-01-07T00:00:00",
        },
        alert_counts={"open": {"warning": 2, "critical": 1, "custom": 4}, "acknowledged": {"alert": 3}},
        report=REPORT,
        next_retrain="2026-01-12T02:00:00+00:00",
        pending_approvals=2,
    )
    assert view.champion is not None and (view.champion.version, view.champion.value) == ("4", 0.81)
    assert view.open_alerts == (("critical", 1), ("warning", 2), ("custom", 4))
    assert view.acknowledged_alerts == 3 and view.pending_approvals == 2
    assert view.newest_run is not None and view.newest_run.status == "rejected"
    perf = view.performance
    assert perf is not None
    assert (perf.baseline, perf.realised, perf.estimated, perf.degraded) == (0.8, 0.6, 0.65, True)
    assert (perf.realised_band, perf.estimated_band, perf.report_id) == ((0.54, 0.66), (0.65, 0.65), 7)


def test_champion_metric_only_from_its_own_decision_and_no_report() -> None:
    view = build_overview(
        champion={"version": "4", "dataset_version": None},
        champion_since="",
        champion_decision={"candidate_version": "3", "candidate_metrics": {"f1_macro": 0.9}},
        metric="f1_macro",
        newest_run=None,
        alert_counts={},
        report=None,
        next_retrain=None,
        pending_approvals=0,
    )
    assert view.champion is not None and view.champion.value is None and view.champion.dataset_version == ""
    assert view.open_alerts == () and view.performance is None and view.newest_run is None
    assert live_performance({"id": 1, "details": {}}, "f1_macro") is None
