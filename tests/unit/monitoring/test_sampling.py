"""Sampling errors: NannyML's closed forms by hand, and what they approximate (the spread of a
metric over random windows of the same size drawn from the reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from evergreen.monitoring.sampling import auc_components, classification_scales, regression_scales, sigma


def test_closed_forms_by_hand() -> None:
    yt = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    yp = np.array([1, 1, 0, 0, 0, 1, 0, 1])  # TP 3, FN 1, FP 1, TN 3
    scales = classification_scales(yt, yp, None, [0, 1])
    assert scales["accuracy"] == pytest.approx(math.sqrt(0.75 * 0.25), abs=1e-15)
    # precision of 1: mean of [1, 1, 1, 0] over the 4 predicted positives, half the rows
    assert scales["precision_class_1"] == pytest.approx(math.sqrt(0.75 * 0.25 / 0.5), abs=1e-15)
    # F1 of 1: TP ones among TP+FP+FN = 5 rows, times NannyML's factor 5 / (0.5 * 2 + 3)
    assert scales["f1_class_1"] == pytest.approx(math.sqrt(0.6 * 0.4 / (5 / 8)) * 5 / 4, abs=1e-15)
    macro = math.sqrt(0.6 * 0.4 / (5 / 8) + 0.6 * 0.4 / (5 / 8)) / 2
    assert scales["f1_macro"] == pytest.approx(macro, abs=1e-15)
    assert sigma(scales, "accuracy", 100) == pytest.approx(math.sqrt(0.75 * 0.25) / 10, abs=1e-15)
    assert sigma(scales, "accuracy", 0) is None and sigma(scales, "nope", 10) is None


def test_auc_components_by_hand() -> None:
    # sorted scores: negatives at ranks 0, 2; positives at ranks 1, 3 -> terms (1-0)/2, (3-1)/2
    var, fraction = auc_components(np.array([0, 1, 0, 1], dtype=bool), np.array([0.1, 0.2, 0.3, 0.4]))
    assert (var, fraction) == (pytest.approx(0.0625, abs=1e-15), 0.5)


def _spread(metric, y, pred, n: int, draws: int = 250, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        i = rng.integers(0, len(y), n)
        values.append(metric(y[i], pred[i]))
    return float(np.std(values))


def test_closed_forms_match_the_spread_over_random_windows() -> None:
    rng = np.random.default_rng(7)
    n_ref, n = 20_000, 500
    score = rng.random(n_ref)
    y = (rng.random(n_ref) < score).astype(int)
    pred = (score > 0.5).astype(int)
    scales = classification_scales(y, pred, np.column_stack([1 - score, score]), [0, 1])
    for name, fn in (
        ("accuracy", lambda a, b: float(np.mean(a == b))),
        ("f1_macro", lambda a, b: f1_score(a, b, average="macro")),
        ("f1_weighted", lambda a, b: f1_score(a, b, average="weighted")),
        ("precision_class_1", precision_score),
        ("recall_class_1", recall_score),
    ):
        s = sigma(scales, name, n)
        assert s is not None and abs(s / _spread(fn, y, pred, n) - 1) < 0.1, name
    # NannyML's own approximations for a binary F1 and ROC AUC are looser: evergreen keeps them
    # (its numbers must match NannyML's), and this pins how far off they are on this data.
    f1 = sigma(scales, "f1_class_1", n)
    assert f1 is not None and 1.4 < f1 / _spread(lambda a, b: f1_score(a, b), y, pred, n) < 1.7
    auc = sigma(scales, "roc_auc", n)
    assert auc is not None and 0.6 < auc / _spread(roc_auc_score, y, score, n) < 0.8

    target = rng.normal(0, 1, n_ref)
    guess = target + rng.normal(0, 0.5 + np.abs(target) / 2, n_ref)
    reg = regression_scales(target, guess)
    rmse = lambda a, b: math.sqrt(mean_squared_error(a, b))  # noqa: E731
    for name, fn in (("mae", mean_absolute_error), ("rmse", rmse), ("r2", r2_score)):
        s = sigma(reg, name, n)
        assert s is not None and abs(s / _spread(fn, target, guess, n) - 1) < 0.1, name


def test_a_class_the_holdout_lacks_leaves_the_averages_defined() -> None:
    # The model knows classes 0, 1, 2; the holdout has no row of class 2, true or predicted.
    yt = np.array([0, 0, 1, 1, 0, 1])
    yp = np.array([0, 1, 1, 1, 0, 0])  # class 0: TP 2, FP 1, FN 1; class 1: TP 2, FP 1, FN 1
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]] + [[0.6, 0.3, 0.1]] * 2
    )
    scales = classification_scales(yt, yp, proba, [0, 1, 2])
    # F1 of each present class: TP ones among TP+FP+FN = 4 of 6 rows, var 0.25 over fraction 4/6;
    # the average over the 2 present classes (was NaN: no band, so a verdict on one number).
    assert scales["f1_macro"] == pytest.approx(math.sqrt(2 * 0.25 / (4 / 6)) / 2, abs=1e-15)
    assert scales["f1_weighted"] == pytest.approx(math.sqrt(2 * 0.25 * 0.25 / (4 / 6)), abs=1e-15)
    assert math.isfinite(scales["precision_macro"]) and math.isfinite(scales["recall_macro"])
    assert math.isfinite(scales["roc_auc"])
    assert math.isnan(scales["f1_class_2"])  # the absent class's own F1 has no spread to speak of
    assert sigma(scales, "f1_macro", 100) == pytest.approx(scales["f1_macro"] / 10, abs=1e-15)
