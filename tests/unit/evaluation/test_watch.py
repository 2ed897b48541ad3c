from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from evergreen.evaluation.bootstrap import resample_indices
from evergreen.evaluation.watch import PairedScore, judge_watch, paired_score, watch_open


def test_paired_score_values_and_paired_bootstrap_sigma() -> None:
    y = np.array(["a", "b"] * 5)
    new = np.array(["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"])  # 6 of 10 right
    old = np.array(["a", "b", "a", "b", "a", "b", "a", "b", "a", "a"])  # 9 of 10 right
    got = paired_score("binary", "accuracy", y, new, old, samples=300, seed=5)
    idx = resample_indices(10, 300, 5)
    diffs = (new == y)[idx].mean(axis=1) - (old == y)[idx].mean(axis=1)
    assert (got.rows, got.new, got.old) == (10, 0.6, 0.9)
    assert got.sigma == pytest.approx(float(np.std(diffs)), abs=1e-12)
    assert paired_score("binary", "accuracy", [], [], []) == PairedScore("accuracy", 0, None, None, None)


def _judge(new: float, old: float, sigma: float, rows: int = 400, metric: str = "accuracy"):
    return judge_watch(
        PairedScore(metric, rows, new, old, sigma), new_version="2", old_version="1", min_labels=200, sigmas=3
    )


def test_regressed_only_when_the_whole_band_is_worse() -> None:
    worse = _judge(0.80, 0.90, 0.02)  # band [0.74, 0.86] wholly below 0.90
    assert worse.verdict == "regressed"
    assert (worse.delta, worse.band_low, worse.band_high) == pytest.approx((-0.10, 0.74, 0.86))
    assert worse.reason == (
        "v2 vs v1 on the same 400 labelled live records: accuracy 0.8000 vs 0.9000 (delta -0.1000, "
        "sigma 0.0200, band [0.7400, 0.8600]), worse beyond the sampling band: rolled back to v1"
    )
    assert _judge(0.88, 0.90, 0.01).verdict == "kept"  # band [0.85, 0.91] holds 0.90: noise
    better = _judge(0.95, 0.90, 0.01)
    assert better.verdict == "kept" and better.reason.endswith("not worse beyond the sampling band: kept")
    assert _judge(1.5, 1.0, 0.1, metric="rmse").verdict == "regressed"  # lower is better: [1.2, 1.8] > 1.0
    assert _judge(1.2, 1.0, 0.1, metric="rmse").verdict == "kept"  # [0.9, 1.5] holds 1.0


def test_too_few_labelled_pairs_is_no_verdict() -> None:
    few = _judge(0.10, 0.95, 0.01, rows=20)
    assert (few.verdict, few.delta) == ("insufficient_data", None)
    assert (
        few.reason
        == "v2 vs v1 on the same 20 labelled live records: fewer than watch.min_labels 200, no verdict"
    )
    assert _judge(0.10, 0.95, 0.01, rows=199).verdict == "insufficient_data"
    assert _judge(0.10, 0.95, 0.01, rows=200).verdict == "regressed"


def test_watch_open_for_days_after_the_promotion() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert watch_open(start, start, 7)
    assert watch_open(start, start + timedelta(days=6.99), 7)
    assert not watch_open(start, start + timedelta(days=7), 7)
    assert not watch_open(start, start - timedelta(seconds=1), 7)


def test_the_watch_and_the_promotion_read_one_paired_bootstrap() -> None:
    # One implementation of the paired resampling: the watch's sigma is the spread, and the promotion's
    # CI the percentiles, of the very same differences (here for a regression metric).
    from evergreen.evaluation.bootstrap import paired_bootstrap, paired_resamples

    rng = np.random.default_rng(3)
    y = rng.normal(size=80)
    new, old = y + rng.normal(scale=0.5, size=80), y + rng.normal(scale=0.3, size=80)
    r = paired_resamples("regression", "rmse", y, new, old, samples=200, seed=9)
    score = paired_score("regression", "rmse", y, new, old, samples=200, seed=9)
    assert (score.new, score.old) == (r.value_a, r.value_b)
    assert score.sigma == float(np.std(r.diffs))
    ci = paired_bootstrap("regression", "rmse", y, new, old, samples=200, seed=9, alpha=0.1)
    assert (ci.delta, ci.ci_low, ci.ci_high) == (
        r.value_a - r.value_b,
        *(float(v) for v in np.percentile(r.diffs, [5, 95])),
    )
