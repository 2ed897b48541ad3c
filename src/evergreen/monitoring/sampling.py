"""Sampling error of every metric: how much it moves between random windows of the same size.

NannyML's definition (``nannyml.sampling_error``): the standard deviation of a metric over random
samples of ``n`` rows drawn from the reference, approximated per metric in closed form from the
reference holdout's labels and predictions, so that it scales as ``1 / sqrt(n)``. Each metric is
therefore stored here as one number, its *scale*: ``sigma(n) = scale / sqrt(n)``.

- accuracy, MAE, MSE, log loss: the standard deviation of the per-row value.
- precision / recall / F1 of one class: the standard error of a mean over the rows that enter it
  (predicted positives, true positives, TP+FP+FN), with NannyML's F1 correcting factor.
- macro averages (NannyML's multiclass): ``sqrt(sum_k var_k / frac_k) / K``; ROC AUC also times 1.2.
- binary ROC AUC: the spread of the Mann-Whitney terms of the positive rows (NannyML's components).
- RMSE: the delta method on the mean squared error, ``std(e^2) / (2 sqrt(mean(e^2)))``.
- weighted averages (no NannyML counterpart): the macro rule with the class shares as weights.
- R2 (no closed form): the standard deviation over 50 seeded resamples of half the reference
  (at most 50 000 rows), scaled by ``sqrt(sample size)`` as NannyML does for average precision.

Checked against the spread over 250 random windows (tests/unit/monitoring/test_sampling.py): within
10 % for accuracy, macro / weighted F1, precision, recall, MAE, RMSE and R2. NannyML's binary F1
form is conservative (about 1.5x the spread there) and its binary ROC AUC form optimistic (about
0.7x); they are kept as they are, because the estimates and bands must match NannyML's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evergreen.evaluation.metrics import label_key
from evergreen.monitoring.calibration import FloatArray, IntArray

AUC_MULTICLASS_FACTOR = 1.2  # NannyML's empirical inflation of the multiclass ROC AUC error
RESAMPLES = 50
MAX_RESAMPLE_ROWS = 50_000
RESAMPLE_SEED = 0


def sigma(scales: Mapping[str, float], metric: str, n: int) -> float | None:
    """Sampling error of ``metric`` on ``n`` rows; ``None`` when it is unknown or ``n`` is 0."""
    scale = scales.get(metric)
    if scale is None or n <= 0 or not math.isfinite(scale):
        return None
    return scale / math.sqrt(n)


def _bernoulli_var(hits: float, total: float) -> float:
    """Variance of ``hits`` ones among ``total`` zero/one values (what ``np.var`` returns)."""
    if total <= 0:
        return math.nan
    q = hits / total
    return q * (1.0 - q)


def auc_components(y: NDArray[np.bool_], score: FloatArray) -> tuple[float, float]:
    """(variance of the Mann-Whitney terms, share of the smaller class): NannyML's AUROC components."""
    pos = np.asarray(y, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    if pos.mean() > 0.5:
        pos, s = 1 - pos, 1.0 - s
    order = np.argsort(s)
    # NannyML takes np.unique(y_sorted * rank)[1:]: the ranks of the positives, without rank 0
    # (the smallest distinct value, from a negative or a first-ranked positive).
    ranks = np.flatnonzero(pos[order])
    index = ranks[ranks > 0]
    n_pos = int(pos.sum())
    n_neg = pos.size - n_pos
    if n_pos == 0 or n_neg == 0 or index.size == 0:
        return math.nan, 0.0
    terms = (index - np.arange(index.size)) / n_neg
    return float(np.var(terms)), n_pos / pos.size


def _class_parts(yt: NDArray[np.bool_], yp: NDArray[np.bool_]) -> dict[str, tuple[float, float]]:
    """(variance, relevant fraction) of precision, recall and F1 of one class, one-vs-rest."""
    n = yt.size
    tp = float(np.sum(yt & yp))
    fp = float(np.sum(~yt & yp))
    fn = float(np.sum(yt & ~yp))
    return {
        "precision": (_bernoulli_var(tp, tp + fp), (tp + fp) / n),
        "recall": (_bernoulli_var(tp, tp + fn), (tp + fn) / n),
        "f1": (_bernoulli_var(tp, tp + fp + fn), (tp + fp + fn) / n),
        "f1_factor": ((tp + fp + fn) / (0.5 * (fn + fp) + tp) if tp + fp + fn else math.nan, 0.0),
    }


def _ratio(var: float, fraction: float) -> float:
    return var / fraction if fraction > 0 else math.nan


def classification_scales(
    true_codes: IntArray, pred_codes: IntArray, proba: FloatArray | None, classes: Sequence[Any]
) -> dict[str, float]:
    """Scales of every classification metric, from the reference holdout."""
    yt, yp = np.asarray(true_codes), np.asarray(pred_codes)
    k = len(classes)
    shares = np.array([np.mean(yt == c) for c in range(k)])
    # The averages run over the classes present in the labels or the predictions, as the metrics
    # do. A present class whose ratio is undefined (recall of a class only ever predicted) is the
    # same in every sample drawn from the reference: it adds no spread. Without this, one class
    # the holdout lacks made every macro scale NaN, hence no band, hence a verdict on one number.
    present = np.array([bool(np.any(yt == c) or np.any(yp == c)) for c in range(k)])
    out = {"accuracy": float(np.std(yt == yp))}
    parts = [_class_parts(yt == c, yp == c) for c in range(k)]
    for name in ("precision", "recall", "f1"):
        ratios = np.array([_ratio(*p[name]) for p in parts])
        spread = np.nan_to_num(ratios[present], nan=0.0)
        out[f"{name}_macro"] = float(np.sqrt(spread.sum()) / present.sum())
        out[f"{name}_weighted"] = float(np.sqrt(np.sum(shares[present] ** 2 * spread)))
        for c, p in enumerate(parts):
            var, fraction = p[name]
            factor = p["f1_factor"][0] if name == "f1" else 1.0  # binary F1's correcting factor
            out[f"{name}_class_{label_key(classes[c])}"] = math.sqrt(_ratio(var, fraction)) * factor
    if proba is not None:
        scores = np.asarray(proba, dtype=np.float64)
        if k == 2:
            out["roc_auc"] = math.sqrt(_ratio(*auc_components(yt == 1, scores[:, 1])))
        else:
            # Over the classes present in the labels, as the multiclass ROC AUC itself.
            labelled = [c for c in range(k) if np.any(yt == c)]
            auc = [_ratio(*auc_components(yt == c, scores[:, c])) for c in labelled]
            out["roc_auc"] = float(np.sqrt(np.sum(auc)) / len(labelled) * AUC_MULTICLASS_FACTOR)
        eps = np.finfo(np.float64).eps  # clipped like sklearn's log_loss
        picked = scores[np.arange(yt.size), yt]
        out["log_loss"] = float(np.std(-np.log(np.clip(picked, eps, 1 - eps))))
    return {key: float(v) for key, v in out.items()}


def regression_scales(y_true: FloatArray, y_pred: FloatArray) -> dict[str, float]:
    """Scales of MAE, MSE, RMSE (NannyML's closed forms) and R2 (resampled), from the reference."""
    yt, yp = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    err = yt - yp
    sq = err**2
    mean_sq = float(sq.mean())
    out = {
        "mae": float(np.std(np.abs(err))),
        "mse": float(np.std(sq)),
        "rmse": float(np.std(sq) / (2.0 * math.sqrt(mean_sq))) if mean_sq > 0 else math.nan,
    }
    size = min(yt.size // 2, MAX_RESAMPLE_ROWS)
    if size >= 2:
        rng = np.random.default_rng(RESAMPLE_SEED)
        r2 = []
        for _ in range(RESAMPLES):
            i = rng.integers(0, yt.size, size)
            total = float(np.sum((yt[i] - yt[i].mean()) ** 2))
            if total > 0:
                r2.append(1.0 - float(np.sum(sq[i])) / total)
        if len(r2) >= 2:
            out["r2"] = float(np.std(r2) * math.sqrt(size))
    return out
