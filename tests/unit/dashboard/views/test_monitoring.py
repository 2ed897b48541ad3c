"""Monitoring charts from report rows: oldest left, thresholds from the newest report, links, tables."""

from __future__ import annotations

from typing import Any

from evergreen.dashboard.views.monitoring import monitoring_view


def _report(i: int, share: float | None, tenure: float, realised: float | None) -> dict[str, Any]:
    return {
        "id": i,
        "report_date": f"2026-01-0{i}T00:00:00+00:00",
        "prediction_drift_score": None,
        "details": {
            "data_drift": {
                "share": share,
                "drift_share": 0.5 if i < 3 else 0.3,
                "columns": {
                    "tenure": {"method": "ks", "score": tenure, "p_value": tenure, "threshold": 0.05}
                },
            },
            "performance": {
                "baseline_metrics": {"f1_macro": 0.8},
                "realised_metrics": {} if realised is None else {"f1_macro": realised},
                "estimated_metrics": {"f1_macro": 0.7},
                "metric_bands": {"f1_macro": {"estimated": {"lower": 0.65, "upper": 0.75}}},
            },
        },
    }


NEWEST_FIRST = [_report(3, 0.5, 0.01, 0.6), _report(2, None, 0.2, None), _report(1, 0.0, 0.5, 0.79)]


def test_charts_run_oldest_to_newest_with_thresholds_from_the_newest_report() -> None:
    view = monitoring_view(NEWEST_FIRST, "f1_macro")
    assert view.dataset is not None and view.prediction is None  # no prediction drift scores at all
    chart = view.dataset.chart
    assert chart.labels == ("2026-01-01", "2026-01-02", "2026-01-03")
    assert chart.series[0].values == (0.0, None, 0.5) and chart.threshold == 0.3
    assert chart.links == ("/monitoring/reports/1", "/monitoring/reports/2", "/monitoring/reports/3")
    assert view.dataset.columns == ("report", "date", "drifted share")
    assert view.dataset.rows[0] == ("#1", "2026-01-01 00:00", "0.0000")
    assert view.dataset.rows[1] == ("#2", "2026-01-02 00:00", "")


def test_performance_realised_and_estimated_with_bands_and_baseline() -> None:
    view = monitoring_view(NEWEST_FIRST, "f1_macro")
    perf = view.performance
    assert perf is not None and perf.chart.threshold == 0.8 and perf.chart.threshold_label == "baseline"
    realised, estimated = perf.chart.series
    assert realised.values == (0.79, None, 0.6) and realised.lower == (None, None, None)
    assert estimated.values == (0.7, 0.7, 0.7) and estimated.dashed and estimated.upper == (0.75, 0.75, 0.75)
    assert perf.columns == (
        "report",
        "date",
        "f1_macro realised",
        "f1_macro realised band",
        "f1_macro estimated",
        "f1_macro estimated band",
    )
    assert perf.rows[2] == ("#3", "2026-01-03 00:00", "0.6000", "", "0.7000", "0.6500 to 0.7500")


def test_one_chart_per_column_titled_by_its_test() -> None:
    (col,) = monitoring_view(NEWEST_FIRST, "f1_macro").columns
    assert col.chart.title == "tenure (ks, p-value)" and col.chart.threshold == 0.05
    assert col.chart.series[0].values == (0.5, 0.2, 0.01)
    empty = monitoring_view([], "f1_macro")
    assert (empty.dataset, empty.prediction, empty.performance, empty.columns) == (None, None, None, ())


def test_a_stored_nan_or_infinity_is_a_gap_not_a_broken_chart() -> None:
    # SQLite's JSON column keeps NaN and Infinity as json.dumps writes them.
    from evergreen.dashboard.charts import render_svg

    reports = [
        _report(3, 0.4, 0.01, 0.7),
        _report(2, float("nan"), float("inf"), None),
        _report(1, 0.2, 0.2, 0.7),
    ]
    view = monitoring_view(reports, "f1_macro")
    assert view.dataset is not None and view.dataset.chart.series[0].values == (0.2, None, 0.4)
    (tenure,) = view.columns
    assert tenure.chart.series[0].values == (0.2, None, 0.01)
    for plot in (view.dataset, tenure):
        svg = render_svg(plot.chart)
        assert "nan" not in svg and "inf" not in svg
