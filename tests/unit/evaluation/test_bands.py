"""``judge_performance``: the one rule the report, the retrain trigger and the alert share."""

from __future__ import annotations

import pytest

from evergreen.evaluation.bands import band, judge_performance


def test_band_is_value_plus_minus_k_sigma() -> None:
    b = band(0.8, 0.01, 3.0)
    assert (b.lower, b.upper) == pytest.approx((0.77, 0.83), abs=1e-15)
    assert band(0.8, None, 3.0).lower == band(0.8, None, 3.0).upper == 0.8  # unknown sigma: a point


def test_a_band_is_cut_to_the_metric_range() -> None:
    # One labelled row: sigma 0.44 makes f1 0.5 +- 1.32; a score lies in [0, 1], an error is >= 0.
    assert (band(0.5, 0.44, 3.0, "f1_macro").lower, band(0.5, 0.44, 3.0, "f1_macro").upper) == (0.0, 1.0)
    assert band(0.99, 0.01, 3.0, "roc_auc").upper == 1.0 and band(0.99, 0.01, 3.0, "roc_auc").lower == 0.96
    assert band(0.1, 0.2, 3.0, "mae").lower == 0.0 and band(0.1, 0.2, 3.0, "mae").upper == pytest.approx(0.7)
    assert band(0.9, 0.1, 3.0, "r2").upper == 1.0 and band(0.9, 0.1, 3.0, "r2").lower == pytest.approx(0.6)
    assert band(0.5, 0.44, 3.0).lower == pytest.approx(-0.82)  # no metric named: not cut


@pytest.mark.parametrize(
    ("metric", "value", "sigma", "verdict", "dropped", "below"),
    [
        # baseline 0.9, limit 0.05, 3 sigma, floor 0.7
        ("f1_macro", 0.80, 0.04, "ok", False, False),  # drop 0.10 but band [0.68, 0.92] reaches 0.9
        ("f1_macro", 0.80, 0.02, "degraded", True, False),  # band [0.74, 0.86] wholly below 0.9
        ("f1_macro", 0.87, 0.001, "ok", False, False),  # band below, but drop 0.03 within the limit
        ("f1_macro", 0.65, 0.03, "degraded", True, False),  # band [0.56, 0.74] reaches the floor 0.7
        ("f1_macro", 0.65, 0.01, "degraded", True, True),  # band [0.62, 0.68] below the floor too
        ("f1_macro", 0.95, 0.0, "ok", False, False),  # better than the holdout
        ("rmse", 1.10, 0.02, "degraded", True, False),  # error metric: band [1.04, 1.16] above 0.9
        ("rmse", 1.10, 0.05, "degraded", True, False),  # band [0.95, 1.25] still wholly above 0.9
        ("rmse", 1.10, 0.07, "ok", False, False),  # band [0.89, 1.31] reaches the holdout 0.9: noise
        ("f1_macro", None, 0.01, "insufficient_data", False, False),
    ],
)
def test_verdict_table(
    metric: str, value: float | None, sigma: float, verdict: str, dropped: bool, below: bool
) -> None:
    floor = 0.7 if metric == "f1_macro" else None
    j = judge_performance(metric, value, sigma, baseline=0.9, drop_limit=0.05, sigmas=3.0, floor=floor)
    assert (j.verdict, j.dropped, j.below_floor) == (verdict, dropped, below)
    assert j.degraded == (verdict == "degraded")


def test_a_drop_equal_to_the_limit_does_not_exceed_it() -> None:
    j = judge_performance("f1_macro", 0.75, 0.0, baseline=0.8, drop_limit=0.05, sigmas=3.0)
    assert j.drop == pytest.approx(0.05, abs=1e-15) and j.verdict == "ok"


def test_no_baseline_and_no_floor_is_never_degraded() -> None:
    j = judge_performance("accuracy", 0.1, 0.0, baseline=None, drop_limit=0.05, sigmas=3.0)
    assert (j.verdict, j.drop) == ("ok", None)
