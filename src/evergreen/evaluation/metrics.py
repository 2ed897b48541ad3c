"""Holdout metrics for every task (DESIGN.md §4: the metric names logged to MLflow).

Everything returned is a plain Python ``float`` so it can go straight to MLflow, JSON and the DB.
Metrics that are undefined for the data at hand (ROC AUC with one class in ``y_true``, R2 with
fewer than two rows) are left out rather than reported as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
)

from evergreen.data.values import canonical_str

CLASSIFICATION_TASKS = frozenset({"binary", "multiclass"})
TASKS = frozenset({"binary", "multiclass", "regression"})
PROBA_METRICS = frozenset({"roc_auc", "log_loss"})  # computed from probabilities, not labels


def is_classification(task: str) -> bool:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
    return task in CLASSIFICATION_TASKS


def label_key(label: Any) -> str:
    """How a class label appears in a metric name: ``f1_class_<label_key>``.

    Integral floats print as ints so that a label read back as ``1.0`` names the same metric as ``1``:
    the canonical string ingestion compares labels by.
    """
    return canonical_str(label)


def row_log_loss(
    y_true: NDArray[Any], proba: NDArray[np.float64], classes: NDArray[Any]
) -> NDArray[np.float64]:
    """Per-row log loss, clipped exactly like ``sklearn.metrics.log_loss`` (so the mean matches it).

    Kept per row so the bootstrap can reweight it without recomputing anything.
    """
    index = {c: i for i, c in enumerate(classes.tolist())}
    try:
        codes = np.fromiter((index[v] for v in y_true.tolist()), dtype=np.intp, count=len(y_true))
    except KeyError as exc:
        raise ValueError(f"y_true contains label {exc.args[0]!r} that is not among classes") from None
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    eps = np.finfo(np.float64).eps
    picked = np.clip(p[np.arange(len(codes)), codes], eps, 1 - eps)
    return -np.log(picked)


def compute_metrics(
    task: str,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    proba: ArrayLike | None = None,
    classes: Sequence[Any] | NDArray[Any] | None = None,
) -> dict[str, float]:
    """Every holdout metric for ``task``; ``classes`` orders the columns of ``proba``."""
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} rows but y_pred has {len(yp)}")
    if len(yt) == 0:
        raise ValueError("cannot compute metrics on zero rows")
    if not is_classification(task):
        return _regression(yt.astype(np.float64), yp.astype(np.float64))
    return _classification(yt, yp, None if proba is None else np.asarray(proba, dtype=np.float64), classes)


def _regression(yt: NDArray[np.float64], yp: NDArray[np.float64]) -> dict[str, float]:
    out = {
        "rmse": float(np.sqrt(mean_squared_error(yt, yp))),
        "mae": float(mean_absolute_error(yt, yp)),
    }
    if len(yt) >= 2:
        out["r2"] = float(r2_score(yt, yp))
    return out


def _classification(
    yt: NDArray[Any],
    yp: NDArray[Any],
    proba: NDArray[np.float64] | None,
    classes: Sequence[Any] | NDArray[Any] | None,
) -> dict[str, float]:
    out: dict[str, float] = {"accuracy": float(accuracy_score(yt, yp))}
    # Averages use sklearn's default label set (classes present in y_true or y_pred) so a class
    # absent from this holdout does not drag the macro average down with a meaningless zero.
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(yt, yp, average=avg, zero_division=0)
        out[f"precision_{avg}"] = float(p)
        out[f"recall_{avg}"] = float(r)
        out[f"f1_{avg}"] = float(f)
    labels = np.asarray(classes) if classes is not None else np.unique(np.concatenate([yt, yp]))
    p_c, r_c, f_c, _ = precision_recall_fscore_support(yt, yp, labels=labels, average=None, zero_division=0)
    for label, pc, rc, fc in zip(labels.tolist(), p_c, r_c, f_c, strict=True):
        key = label_key(label)
        out[f"f1_class_{key}"] = float(fc)
        out[f"precision_class_{key}"] = float(pc)
        out[f"recall_class_{key}"] = float(rc)
    if proba is not None and classes is not None:
        auc = roc_auc(yt, proba, labels)
        if auc is not None:
            out["roc_auc"] = auc
        out["log_loss"] = float(row_log_loss(yt, proba, labels).mean())
    return out


def roc_auc(yt: NDArray[Any], proba: NDArray[np.float64], classes: NDArray[Any]) -> float | None:
    """Binary: AUC of the positive class ``classes[1]``. Multiclass: one-vs-rest macro average.

    The multiclass average runs over the classes that are present in ``y_true`` (and not alone),
    because sklearn's own ``multi_class="ovr"`` refuses a holdout missing any class.
    """
    if len(np.unique(yt)) < 2:
        return None
    p = proba if proba.ndim == 2 else np.column_stack([1.0 - proba, proba])
    if len(classes) == 2:
        return float(roc_auc_score(yt == classes[1], p[:, 1]))
    scores = [
        float(roc_auc_score(yt == c, p[:, k]))
        for k, c in enumerate(classes.tolist())
        if 0 < int(np.sum(yt == c)) < len(yt)
    ]
    return float(np.mean(scores)) if scores else None
