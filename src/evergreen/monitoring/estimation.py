"""Confidence-based performance estimation (CBPE): a classifier's metrics before labels arrive.

The model's probabilities are first calibrated on the reference holdout (isotonic regression per
class, one-vs-rest, rows renormalised for more than two classes). If they are calibrated, row ``i``
is of true class ``k`` with probability ``p_ik`` whatever its inputs, so the expected confusion
matrix of a window is ``C[k, j] = sum_i p_ik [pred_i = j]``, and every metric that is a function of
the confusion matrix can be read off it. The assumption is that P(y | x) did not change (covariate
shift only): a change of concept is invisible without labels, which is why the realised value is
reported beside the estimate as soon as labels exist.

Everything here is pure numpy on arrays; sklearn is used only to fit the isotonic steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evergreen.evaluation.metrics import label_key
from evergreen.monitoring.calibration import (
    Calibrator,
    FloatArray,
    IntArray,
    rank_auc,
    score_orders,
    scored_columns,
)


def expected_confusion(calibrated: FloatArray, pred_codes: IntArray) -> FloatArray:
    """``C[true, predicted]``: expected counts given calibrated probabilities and the predictions."""
    p = np.asarray(calibrated, dtype=np.float64)
    k = p.shape[1]
    codes = np.asarray(pred_codes)
    return np.array([np.bincount(codes, weights=p[:, t], minlength=k) for t in range(k)])


def confusion_metrics(cm: FloatArray, classes: Sequence[Any]) -> dict[str, float]:
    """Accuracy and precision / recall / F1 (macro, weighted, per class) from a confusion matrix.

    Same conventions as ``compute_metrics``: a class with no predictions (or no true rows) gets
    precision (recall) 0, and the averages run over classes with any true or predicted mass.
    """
    cm = np.asarray(cm, dtype=np.float64)
    total = float(cm.sum())
    tp = np.diag(cm)
    support = cm.sum(axis=1)  # expected true rows per class
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    out = {"accuracy": float(tp.sum() / total)}
    present = (support > 0) | (predicted > 0)
    weights = support[present] / support[present].sum()
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[f"{name}_macro"] = float(values[present].mean())
        out[f"{name}_weighted"] = float(np.dot(values[present], weights))
    for k, c in enumerate(classes):
        key = label_key(c)
        out[f"f1_class_{key}"] = float(f1[k])
        out[f"precision_class_{key}"] = float(precision[k])
        out[f"recall_class_{key}"] = float(recall[k])
    return out


def estimated_roc_auc(calibrated: FloatArray, raw: FloatArray, order: IntArray | None = None) -> float:
    """NannyML's ``estimate_roc_auc`` for one column: rows ranked by the model's own score, each
    counting ``p`` (calibrated) of a true positive and ``1 - p`` of a false one; trapezoids under the
    expected ROC curve. The cumulative counts are rounded to 5 decimals as NannyML rounds them.
    ``order``: ascending order of ``raw`` (ties calibrate alike, so which one does not matter)."""
    if order is None:
        order = np.argsort(raw)
    return _expected_auc(np.asarray(calibrated, dtype=np.float64)[order[::-1]])


def _expected_auc(p: FloatArray) -> float:
    """:func:`estimated_roc_auc` of calibrated probabilities already ranked by descending score."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = np.cumsum(p)
        tps: FloatArray = np.round(np.concatenate([[0.0], hits]), 5)
        fps: FloatArray = np.round(np.concatenate([[0.0], np.arange(1.0, p.size + 1.0) - hits]), 5)
        return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def cbpe_metrics(
    calibrator: Calibrator,
    proba: FloatArray,
    pred_codes: IntArray,
    classes: Sequence[Any],
    orders: Mapping[int, IntArray] | None = None,
) -> dict[str, float]:
    """Estimated metrics of a window: accuracy, precision / recall / F1 (macro, weighted, per class)
    and ROC AUC (binary: the positive class; multiclass: the one-vs-rest mean, as NannyML).
    ``orders``: :func:`~evergreen.monitoring.calibration.score_orders` of ``proba`` (sorted here
    when not given)."""
    raw = np.asarray(proba, dtype=np.float64)
    orders = orders or score_orders(raw)  # a sorted map is many times faster than an unsorted one
    if raw.shape[1] == 2:
        return _binary_in_score_order(calibrator, raw[:, 1], np.asarray(pred_codes), classes, orders[1])
    calibrated = calibrator.apply(raw, orders)
    out = confusion_metrics(expected_confusion(calibrated, pred_codes), classes)
    columns = scored_columns(raw.shape[1])
    auc = [estimated_roc_auc(calibrated[:, c], raw[:, c], orders.get(c)) for c in columns]
    if all(np.isfinite(auc)):
        out["roc_auc"] = float(np.mean(auc))
    return out


def _binary_in_score_order(
    calibrator: Calibrator,
    positive: FloatArray,
    pred_codes: IntArray,
    classes: Sequence[Any],
    order: IntArray,
) -> dict[str, float]:
    """:func:`cbpe_metrics` of a binary model, worked out in score order: the map runs over sorted
    scores, the ROC AUC reads the result backwards, and the confusion sums do not care about order,
    so the rows are gathered once instead of mapped, put back and gathered again."""
    ranked = calibrator.map_column(1, positive[order])
    predicted = pred_codes[order]
    positives = np.bincount(predicted, weights=ranked, minlength=2)  # expected true class 1 per prediction
    counts = np.bincount(predicted, minlength=2).astype(np.float64)
    out = confusion_metrics(np.array([counts - positives, positives]), classes)
    auc = _expected_auc(ranked[::-1])
    if np.isfinite(auc):
        out["roc_auc"] = auc
    return out


def realised_from_codes(
    true_codes: IntArray,
    pred_codes: IntArray,
    proba: FloatArray | None,
    classes: Sequence[Any],
    orders: Mapping[int, IntArray] | None = None,
) -> dict[str, float]:
    """Realised metrics of labelled rows from class indices: the same numbers as ``compute_metrics``
    (confusion-matrix metrics over the classes present, ROC AUC as Mann-Whitney U with ties counted
    half, i.e. sklearn's trapezoids, log loss clipped like sklearn), without sklearn's per-call
    validation, which dominates on a million rows. ``orders``: the score orders of ``proba``."""
    yt, yp = np.asarray(true_codes), np.asarray(pred_codes)
    k = len(classes)
    cm = np.bincount(yt * k + yp, minlength=k * k).reshape(k, k).astype(np.float64)
    out = confusion_metrics(cm, classes)
    if proba is None:
        return out
    p = np.asarray(proba, dtype=np.float64)
    aucs = []
    orders = orders or {}
    for c in scored_columns(k):
        auc = rank_auc(yt == c, p[:, c], orders.get(c))
        if auc is not None:
            aucs.append(auc)
    if aucs:
        out["roc_auc"] = float(np.mean(aucs))
    eps = np.finfo(np.float64).eps
    picked = np.take_along_axis(p, yt[:, None], axis=1)[:, 0]  # each row's probability of its label
    out["log_loss"] = float(-np.mean(np.log(np.clip(picked, eps, 1 - eps))))
    return out
