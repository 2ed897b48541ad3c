"""The vectorised paired bootstrap equals a plain loop over the same resamples."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from evergreen.evaluation.bootstrap import (
    paired_bootstrap,
    resample_counts,
    resample_indices,
    weighted_metric,
)
from evergreen.evaluation.metrics import compute_metrics

N, SAMPLES, SEED = 120, 40, 7


def _classification(task: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    k = 2 if task == "binary" else 3
    classes = np.array(["no", "yes"]) if k == 2 else np.array([0, 1, 2])
    codes = rng.integers(0, k, N)
    y = classes[codes]
    noisy = lambda p: classes[np.where(rng.random(N) < p, codes, rng.integers(0, k, N))]  # noqa: E731
    # Rounded probabilities create ties, which the AUC must count as one half.
    proba_a = np.round(rng.dirichlet(np.ones(k), N), 1) + 1e-3
    proba_b = rng.dirichlet(np.ones(k), N)
    return {
        "y": y,
        "a": noisy(0.8),
        "b": noisy(0.6),
        "classes": classes,
        "pa": proba_a / proba_a.sum(axis=1, keepdims=True),
        "pb": proba_b,
    }


@functools.cache
def _naive_metrics(task: str) -> list[tuple[dict[str, float], dict[str, float]]]:
    """The reference: compute_metrics (sklearn) on each resample, drawn with the same indices."""
    d = _data(task)
    out = []
    for idx in resample_indices(N, SAMPLES, SEED):
        pa = d["pa"][idx] if "pa" in d else None
        pb = d["pb"][idx] if "pb" in d else None
        a = compute_metrics(task, d["y"][idx], d["a"][idx], pa, d.get("classes"))
        b = compute_metrics(task, d["y"][idx], d["b"][idx], pb, d.get("classes"))
        out.append((a, b))
    return out


def _naive_diffs(task: str, metric: str) -> np.ndarray:
    return np.array(
        [a[metric] - b[metric] if metric in a and metric in b else np.nan for a, b in _naive_metrics(task)]
    )


@functools.cache
def _data(task: str) -> dict[str, np.ndarray]:
    if task != "regression":
        return _classification(task)
    rng = np.random.default_rng(5)
    y = rng.normal(10, 3, N)
    return {"y": y, "a": y + rng.normal(0, 1, N), "b": y + rng.normal(0, 2, N)}


CLASSIFICATION_METRICS = [
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "log_loss",
]


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("metric", CLASSIFICATION_METRICS)
def test_classification_matches_naive_loop(task: str, metric: str) -> None:
    d = _data(task)
    counts = resample_counts(N, SAMPLES, SEED)
    fast = weighted_metric(task, metric, counts, d["y"], d["a"], d["pa"], d["classes"]) - weighted_metric(
        task, metric, counts, d["y"], d["b"], d["pb"], d["classes"]
    )
    naive = _naive_diffs(task, metric)
    np.testing.assert_allclose(fast, naive, rtol=0, atol=1e-12)
    result = paired_bootstrap(
        task, metric, d["y"], d["a"], d["b"], d["pa"], d["pb"], d["classes"], samples=SAMPLES, seed=SEED
    )
    full_a = compute_metrics(task, d["y"], d["a"], d["pa"], d["classes"])[metric]
    full_b = compute_metrics(task, d["y"], d["b"], d["pb"], d["classes"])[metric]
    assert result.delta == pytest.approx(full_a - full_b, abs=1e-12)
    low, high = np.percentile(naive[np.isfinite(naive)], [2.5, 97.5])
    assert (result.ci_low, result.ci_high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))


@pytest.mark.parametrize("metric", ["f1_class_yes", "precision_class_no", "recall_class_yes"])
def test_per_class_metric_matches_naive_loop(metric: str) -> None:
    d = _data("binary")
    counts = resample_counts(N, SAMPLES, SEED)
    fast = weighted_metric("binary", metric, counts, d["y"], d["a"], None, d["classes"]) - weighted_metric(
        "binary", metric, counts, d["y"], d["b"], None, d["classes"]
    )
    np.testing.assert_allclose(fast, _naive_diffs("binary", metric), rtol=0, atol=1e-12)


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_regression_matches_naive_loop(metric: str) -> None:
    d = _data("regression")
    y = d["y"]
    counts = resample_counts(N, SAMPLES, SEED)
    fast = weighted_metric("regression", metric, counts, y, d["a"], None, None) - weighted_metric(
        "regression", metric, counts, y, d["b"], None, None
    )
    np.testing.assert_allclose(fast, _naive_diffs("regression", metric), rtol=0, atol=1e-12)


def test_resample_counts_are_the_indices_counted() -> None:
    counts = resample_counts(5, 3, 1)
    idx = resample_indices(5, 3, 1)
    assert counts.tolist() == [np.bincount(r, minlength=5).tolist() for r in idx]
    assert counts.sum(axis=1).tolist() == [5.0, 5.0, 5.0]


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_blocks_of_resamples_give_the_one_matrixs_numbers_in_bounded_memory(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evergreen.evaluation.bootstrap as bootstrap

    d = _classification(task)
    args = (task, "roc_auc", d["y"], d["a"], d["b"], d["pa"], d["pb"], list(d["classes"]))
    whole = paired_bootstrap(*args, samples=SAMPLES, seed=SEED)  # N x SAMPLES fits one block
    monkeypatch.setattr(bootstrap, "BLOCK_CELLS", 3 * N + 1)  # three resamples a block, then one
    shapes = [c.shape for c in bootstrap.resample_count_blocks(N, 10, SEED)]
    assert shapes == [(3, N), (3, N), (3, N), (1, N)]
    # the same draws as one (samples x n) call of the generator
    one_call = [np.bincount(r, minlength=N) for r in resample_indices(N, SAMPLES, SEED)]
    blocks = np.concatenate(list(bootstrap.resample_count_blocks(N, SAMPLES, SEED)))
    assert blocks.tolist() == np.array(one_call, dtype=float).tolist()
    assert paired_bootstrap(*args, samples=SAMPLES, seed=SEED) == whole
    monkeypatch.setattr(bootstrap, "BLOCK_CELLS", 1)  # one resample a block: the same numbers again
    assert paired_bootstrap(*args, samples=SAMPLES, seed=SEED) == whole


def test_identical_models_give_a_zero_interval() -> None:
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    r = paired_bootstrap("binary", "f1_macro", y, y[::-1], y[::-1], samples=200, seed=1)
    assert (r.delta, r.ci_low, r.ci_high, r.samples, r.seed, r.alpha) == (0.0, 0.0, 0.0, 200, 1, 0.05)


def test_always_right_vs_always_wrong() -> None:
    y = np.array(["a", "b"] * 10)
    wrong = np.where(y == "a", "b", "a")
    r = paired_bootstrap("binary", "accuracy", y, y, wrong, samples=100)
    assert (r.delta, r.ci_low, r.ci_high) == (1.0, 1.0, 1.0)
