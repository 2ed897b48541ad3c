"""The report as strict JSON and as a self-contained HTML page."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from evergreen.monitoring import data_drift
from evergreen.monitoring.html import category_plot, column_plots, numeric_plot, render_html
from evergreen.monitoring.performance import check_performance
from evergreen.monitoring.report import MonitoringReport, strict_json


def _report() -> tuple[MonitoringReport, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 500), "<b>plan</b>": rng.choice(["a", "b", "c"], 500)})
    cur = pd.DataFrame({"x": rng.normal(1, 1, 300), "<b>plan</b>": rng.choice(["a", "b", "new"], 300)})
    drift = data_drift(ref, cur, kinds={"x": "numeric", "<b>plan</b>": "categorical"}, drift_share=0.5)
    pred = data_drift(
        pd.DataFrame({"prediction": ["no"] * 400 + ["yes"] * 100}),
        pd.DataFrame({"prediction": ["no"] * 150 + ["yes"] * 150}),
        kinds={"prediction": "categorical"},
    )
    check = check_performance(
        "f1_macro", 0.8, {"f1_macro": 0.7}, {"f1_macro": float("nan")}, 50, 300, 30, 0.05
    )
    now = datetime(2026, 3, 1, tzinfo=UTC)
    report = MonitoringReport(
        project="churn",
        window="7d",
        report_date=now,
        window_start=now - timedelta(days=7),
        window_end=now,
        model_version="3",
        dataset_version="abc",
        reference_rows=500,
        current_rows=300,
        data_drift=drift,
        prediction_drift=pred,
        performance=check,
        baseline_metrics={"f1_macro": 0.8},
        realised_metrics={"f1_macro": 0.7},
        estimated_metrics={"f1_macro": float("nan")},
        skipped_columns={"tenure": "no values in the current data"},
        notes=["<script>alert(1)</script>"],
    )
    return report, ref, cur


def test_strict_json_replaces_non_finite_numbers() -> None:
    data = {"a": float("inf"), "b": [np.float64("nan"), np.int64(3), (1.5, -math.inf)], 4: np.bool_(True)}
    assert strict_json(data) == {"a": None, "b": [None, 3, [1.5, None]], "4": True}


def test_details_are_strict_json_with_every_column_verdict() -> None:
    report, _, _ = _report()
    plan = report.data_drift["<b>plan</b>"]
    assert plan.method == "chisquare" and math.isinf(plan.statistic)  # "new" was never in the reference
    text = json.dumps(report.to_dict(), allow_nan=False)  # raises on NaN/inf
    d = json.loads(text)
    col = d["details"]["data_drift"]["columns"]["<b>plan</b>"]
    assert (col["statistic"], col["p_value"], col["threshold"], col["drifted"]) == (None, 0.0, 0.05, True)
    assert set(d["details"]["data_drift"]["columns"]["x"]) >= {
        "method",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
        "kind",
    }
    assert d["data_drift_score"] == 1.0 and d["drift_detected"] is True
    assert d["prediction_drift_score"] == 1.0 and d["details"]["prediction_drift"]["detected"] is True
    assert d["performance_drift_score"] == 0.8 - 0.7
    assert d["details"]["performance"]["estimated_metrics"] == {"f1_macro": None}
    assert d["details"]["window"] == {
        "name": "7d",
        "start": "2026-02-22T00:00:00+00:00",
        "end": "2026-03-01T00:00:00+00:00",
    }


def test_plots_are_shares_over_shared_bins() -> None:
    p = numeric_plot(pd.Series([0.0, 0.0, 1.0, np.nan]), pd.Series([1.0, np.inf, 1.0]))
    assert len(p.labels) == 2 and p.reference == [2 / 3, 1 / 3] and p.current == [0.0, 1.0]
    many = pd.Series([f"c{i}" for i in range(20)] * 2)
    c = category_plot(many, pd.Series(["c0", "zz"]))
    assert c.labels[-1] == "(other)" and len(c.labels) == 13
    assert math.isclose(sum(c.reference), 1.0) and math.isclose(sum(c.current), 1.0)


def test_plots_of_values_at_the_ends_of_the_float_range() -> None:
    # Finite values the serving schema accepts: numpy refused both ranges ("Too many bins for data
    # range"), after the report row was stored, so the run failed and the row had no HTML.
    wide = numeric_plot(pd.Series([-1e308, 1e308]), pd.Series([1e308, 1e308, 1e308]))
    assert wide.labels == ["-1e+308", "0"] and wide.reference == [0.5, 0.5] and wide.current == [0.0, 1.0]
    constant = numeric_plot(pd.Series([1e17] * 4), pd.Series([1e17]))
    assert constant.labels == ["1e+17"] and constant.reference == [1.0] and constant.current == [1.0]
    # Ordinary data keep numpy's bins.
    normal = numeric_plot(pd.Series([0.0, 0.5, 1.0, 2.0]), pd.Series([3.0]))
    assert normal.labels == [f"{e:.4g}" for e in np.histogram_bin_edges([0.0, 0.5, 1.0, 2.0, 3.0], 5)[:-1]]
    assert normal.reference == [0.5, 0.25, 0.0, 0.25, 0.0] and normal.current == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_html_is_self_contained_and_escaped() -> None:
    report, ref, cur = _report()
    plots = column_plots(ref, cur, {"x": "numeric", "<b>plan</b>": "categorical"}, ["x", "<b>plan</b>"])
    page = render_html(report, plots, {})
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2  # one plot per data column
    for external in ("<script", "<link", "src=", "href=", "http://", "https://", "@import", "url("):
        assert external not in page, external
    assert "&lt;b&gt;plan&lt;/b&gt;" in page and "<b>plan</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert re.search(r"watched metric <b>f1_macro</b>: holdout 0.8, realised 0.7", page)
    assert "tenure: no values in the current data" in page
