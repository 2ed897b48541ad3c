"""Realised metrics on labelled rows and the drop against the champion's holdout (exact numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from evergreen.monitoring.performance import check_performance, metric_drop, realised_metrics


def test_metric_drop_sign_follows_the_metric() -> None:
    assert metric_drop("f1_macro", 0.8, 0.7) == pytest.approx(0.1, abs=1e-15)
    assert metric_drop("accuracy", 0.8, 0.9) == pytest.approx(-0.1, abs=1e-15)
    assert metric_drop("rmse", 2.0, 2.5) == 0.5  # a larger error is worse
    assert metric_drop("log_loss", 0.5, 0.25) == -0.25


def test_realised_metrics_skip_unlabelled_rows() -> None:
    labels = np.array(["yes", None, "no", "no", None, "yes"], dtype=object)
    pred = np.array(["yes", "no", "yes", "no", "yes", "no"], dtype=object)
    m = realised_metrics("binary", labels, pred)
    # Labelled rows: (yes, yes), (no, yes), (no, no), (yes, no) → 2 of 4 right.
    assert m["accuracy"] == 0.5
    assert m["f1_macro"] == 0.5
    assert "roc_auc" not in m
    assert realised_metrics("binary", np.array([None, None], dtype=object), pred[:2]) == {}


def test_probability_metrics_only_when_every_labelled_row_has_them() -> None:
    labels = np.array(["no", "yes", "yes"], dtype=object)
    pred = np.array(["no", "yes", "no"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    m = realised_metrics("binary", labels, pred, proba, ["no", "yes"])
    assert m["roc_auc"] == 1.0
    assert m["log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3, abs=1e-15)
    proba[2] = np.nan
    assert "roc_auc" not in realised_metrics("binary", labels, pred, proba, ["no", "yes"])


def test_regression_realised_metrics() -> None:
    m = realised_metrics("regression", np.array([1.0, None, 3.0], dtype=object), np.array([2.0, 0.0, 3.0]))
    assert m["rmse"] == pytest.approx(np.sqrt(0.5), abs=1e-15)
    assert m["mae"] == 0.5


def test_check_uses_realised_once_enough_labels() -> None:
    c = check_performance(
        "f1_macro",
        0.80,
        {"f1_macro": 0.70},
        {"f1_macro": 0.78},
        labelled_rows=30,
        rows=100,
        min_labels=30,
        threshold=0.05,
        baseline_source="decisions",
    )
    assert (c.source, c.realised, c.estimated) == ("realised", 0.70, 0.78)
    assert c.drop == pytest.approx(0.10, abs=1e-15) and c.degraded and c.score == c.drop
    assert c.to_dict()["baseline_source"] == "decisions"


def test_check_falls_back_to_the_estimate_before_labels() -> None:
    c = check_performance(
        "f1_macro",
        0.80,
        {"f1_macro": 0.10},
        {"f1_macro": 0.78},
        labelled_rows=29,
        rows=100,
        min_labels=30,
        threshold=0.05,
    )
    assert (c.source, c.realised) == ("estimated", None)  # 29 labels are not enough to trust 0.10
    assert c.drop == pytest.approx(0.02, abs=1e-15) and not c.degraded


def test_check_drop_at_threshold_is_not_degraded_and_better_is_score_zero() -> None:
    c = check_performance("accuracy", 0.75, {"accuracy": 0.5}, {}, 100, 100, 30, threshold=0.25)
    assert c.drop == 0.25 and not c.degraded
    better = check_performance("rmse", 2.0, {"rmse": 1.5}, {}, 100, 100, 30, threshold=0.1)
    assert better.drop == -0.5 and better.score == 0.0 and not better.degraded


def test_check_without_baseline_or_value_measures_nothing() -> None:
    c = check_performance("roc_auc", None, {"roc_auc": 0.7}, {}, 100, 100, 30, 0.05)
    assert (c.drop, c.source, c.score, c.degraded) == (None, None, None, False)
    c = check_performance("roc_auc", 0.8, {}, {"f1_macro": 0.7}, 0, 100, 30, 0.05)  # CBPE has no AUC
    assert (c.drop, c.estimated) == (None, None)


def test_check_judges_the_floor_the_trigger_and_the_alert_judge() -> None:
    # baseline 0.77, value 0.74 +- 3 * 0.002: drop 0.03 is within 0.05, but the band [0.734, 0.746]
    # lies wholly below the floor 0.75 (triggers.performance.min), where the trigger fires.
    args = ("f1_macro", 0.77, {"f1_macro": 0.74}, {}, 600, 600, 30, 0.05)
    sigmas = {"realised": {"f1_macro": 0.002}}
    without = check_performance(*args, sigmas=sigmas)
    assert without.verdict == "ok"
    c = check_performance(*args, sigmas=sigmas, floor=0.75)
    assert (c.verdict, c.degraded, c.floor) == ("degraded", True, 0.75)
    assert (c.lower, c.upper) == pytest.approx((0.734, 0.746), abs=1e-12)
    near = check_performance(*args, sigmas={"realised": {"f1_macro": 0.004}}, floor=0.75)
    assert near.verdict == "ok"  # band [0.728, 0.752] reaches the floor: noise could explain it


def test_a_floor_verdict_without_a_baseline_names_its_value() -> None:
    c = check_performance("f1_macro", None, {"f1_macro": 0.6}, {}, 600, 600, 30, 0.05, floor=0.75)
    assert (c.verdict, c.drop, c.source, c.value) == ("degraded", None, "realised", 0.6)
    assert c.to_dict()["value"] == 0.6
