"""The shortcuts that make CBPE fast at a million rows give the numbers of the plain computation:
one sort per window shared by the maps and both ROC AUCs, no pooling when no scores tie, a quicksort
for ``lexsort`` when no scores tie, a rank sum without ties, integer labels looked up by comparison."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from evergreen.monitoring.calibration import (
    _isotonic,
    _label_order,
    fit_calibrator,
    rank_auc,
    score_orders,
)
from evergreen.monitoring.estimation import (
    cbpe_metrics,
    confusion_metrics,
    estimated_roc_auc,
    expected_confusion,
    realised_from_codes,
)
from evergreen.monitoring.estimator import class_codes


def _scores(n: int, seed: int, decimals: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Over-confident scores and 0/1 labels; rounded scores tie, unrounded ones do not."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-2.5 * rng.normal(size=n)))
    y = (rng.random(n) < 0.5 + 0.6 * (p - 0.5)).astype(np.float64)
    return (p if decimals is None else np.round(p, decimals)), y


@pytest.mark.parametrize("decimals", [None, 2])
def test_isotonic_knots_predict_what_sklearn_predicts(decimals: int | None) -> None:
    p, y = _scores(5000, 1, decimals)
    x_new = np.linspace(-0.1, 1.1, 999)
    xs, fitted = _isotonic(p, y)
    expected = IsotonicRegression(out_of_bounds="clip").fit(p, y).predict(x_new)
    np.testing.assert_allclose(np.interp(x_new, xs, fitted), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("decimals", [None, 3, 1])
def test_label_order_is_lexsort(decimals: int | None) -> None:
    p, y = _scores(4000, 2, decimals)
    np.testing.assert_array_equal(_label_order(y, p), np.lexsort((y, p)))


@pytest.mark.parametrize("decimals", [None, 2])
def test_rank_auc_is_sklearns_with_any_ascending_order(decimals: int | None) -> None:
    p, y = _scores(3000, 3, decimals)
    expected = roc_auc_score(y, p)
    for order in (None, np.argsort(p), np.lexsort((y, p)), np.argsort(p, kind="stable")):
        assert rank_auc(y == 1, p, order) == pytest.approx(expected, abs=1e-12)
    assert rank_auc(np.zeros(10, dtype=bool), p[:10]) is None


def _binary(seed: int, decimals: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p, y = _scores(6000, seed, decimals)
    proba = np.column_stack([1 - p, p])
    return proba, y.astype(np.intp), (p >= 0.5).astype(np.intp)


@pytest.mark.parametrize("decimals", [None, 2])
def test_binary_cbpe_in_score_order_equals_the_plain_computation(decimals: int | None) -> None:
    proba, truth, _ = _binary(4, decimals)
    calibrator = fit_calibrator(proba, truth)
    assert calibrator.calibrated == (True,)  # the scores are over-confident: the map is used
    window, _, window_pred = _binary(5, decimals)
    fast = cbpe_metrics(calibrator, window, window_pred, [0, 1], score_orders(window))
    assert fast == cbpe_metrics(calibrator, window, window_pred, [0, 1])  # sorts it itself
    calibrated = calibrator.apply(window)  # the plain way: map in row order, sort for the AUC
    plain = confusion_metrics(expected_confusion(calibrated, window_pred), [0, 1])
    plain["roc_auc"] = estimated_roc_auc(calibrated[:, 1], window[:, 1])
    assert fast.keys() == plain.keys()
    for name, value in plain.items():
        assert fast[name] == pytest.approx(value, abs=1e-12), name


def test_multiclass_maps_and_realised_metrics_with_shared_orders_equal_the_plain_ones() -> None:
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(4000, 3)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = (rng.random(4000)[:, None] > proba.cumsum(axis=1)).sum(axis=1).clip(0, 2)
    pred = proba.argmax(axis=1)
    calibrator = fit_calibrator(proba, truth)
    window = proba[:1500]
    orders = score_orders(window)
    assert set(orders) == {0, 1, 2}
    np.testing.assert_allclose(calibrator.apply(window, orders), calibrator.apply(window), rtol=0, atol=0)
    fast = cbpe_metrics(calibrator, window, pred[:1500], ["a", "b", "c"], orders)
    calibrated = calibrator.apply(window)
    plain = confusion_metrics(expected_confusion(calibrated, pred[:1500]), ["a", "b", "c"])
    plain["roc_auc"] = float(np.mean([estimated_roc_auc(calibrated[:, c], window[:, c]) for c in range(3)]))
    assert fast == pytest.approx(plain, abs=1e-12)
    tied = np.round(window, 2)  # ties: the shared orders must still rank them as sklearn does
    realised = realised_from_codes(truth[:1500], pred[:1500], tied, ["a", "b", "c"], score_orders(tied))
    by_class = [roc_auc_score(truth[:1500] == c, tied[:, c]) for c in range(3)]
    assert realised["roc_auc"] == pytest.approx(float(np.mean(by_class)), abs=1e-12)
    assert realised["accuracy"] == pytest.approx(float(np.mean(truth[:1500] == pred[:1500])), abs=1e-15)


@pytest.mark.parametrize(
    ("classes", "labels"),
    [
        ([0, 1], np.array([1, 0, 2, -1, 1], dtype=np.int64)),
        ([0, 1, 2], np.array([2, 0, 1, 1], dtype=np.int64)),  # classes 0..k-1: labels are the codes
        ([0, 1, 2], np.array([], dtype=np.int64)),
        ([np.int64(3), 7, -2], np.array([7, -2, 3, 0, 7], dtype=np.int32)),
        ([1, 2], np.array([2, 1, 9], dtype=np.uint64)),
        ([True, False], np.array([1, 0, 1], dtype=np.int64)),  # bools: pandas' look-up, not ==
        (["a", "b"], np.array(["b", "z", "a"], dtype=object)),
        ([0, 1], np.array([1.0, np.nan, 0.0])),
    ],
)
def test_class_codes_equal_pandas_look_up(classes: list[Any], labels: np.ndarray) -> None:
    expected = pd.Index(classes).get_indexer(pd.Index(labels))
    np.testing.assert_array_equal(class_codes(classes, labels), expected)
