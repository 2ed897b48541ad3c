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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evergreen.evaluation.metrics import label_key

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Calibrator:
    """Piecewise-linear isotonic maps, one per calibrated class (binary: the positive class only)."""

    n_classes: int
    knots: tuple[tuple[FloatArray, FloatArray], ...]  # (x, y) thresholds per calibrated column

    def apply(self, proba: FloatArray) -> FloatArray:
        p = np.asarray(proba, dtype=np.float64)
        if self.n_classes == 2:
            x, y = self.knots[0]
            pos = np.interp(p[:, 1], x, y)
            return np.column_stack([1.0 - pos, pos])
        out = np.column_stack([np.interp(p[:, k], x, y) for k, (x, y) in enumerate(self.knots)])
        total = out.sum(axis=1, keepdims=True)
        # A row that every class map sends to 0 keeps its uncalibrated probabilities.
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), p)


def _isotonic(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True).fit(x, y)
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)


def fit_calibrator(proba: FloatArray, true_codes: IntArray) -> Calibrator:
    """Fit on the reference holdout: ``proba`` (rows, classes), ``true_codes`` column index of the label."""
    p = np.asarray(proba, dtype=np.float64)
    codes = np.asarray(true_codes)
    k = p.shape[1]
    columns = [1] if k == 2 else list(range(k))
    knots = tuple(_isotonic(p[:, c], (codes == c).astype(np.float64)) for c in columns)
    return Calibrator(k, knots)


def expected_confusion(calibrated: FloatArray, pred_codes: IntArray) -> FloatArray:
    """``C[true, predicted]``: expected counts given calibrated probabilities and the predictions."""
    p = np.asarray(calibrated, dtype=np.float64)
    k = p.shape[1]
    onehot = np.zeros((len(pred_codes), k))
    onehot[np.arange(len(pred_codes)), np.asarray(pred_codes)] = 1.0
    return np.asarray(p.T @ onehot)


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


def estimate_performance(
    calibrator: Calibrator, proba: FloatArray, pred_codes: IntArray, classes: Sequence[Any]
) -> dict[str, float]:
    """Estimated metrics of a window, plus ``accuracy_std``: the standard deviation of the realised
    accuracy around the estimate (rows are independent Bernoulli draws of being right)."""
    calibrated = calibrator.apply(proba)
    cm = expected_confusion(calibrated, pred_codes)
    out = confusion_metrics(cm, classes)
    right = calibrated[np.arange(len(pred_codes)), np.asarray(pred_codes)]
    out["accuracy_std"] = float(np.sqrt(np.sum(right * (1.0 - right))) / len(pred_codes))
    return out
