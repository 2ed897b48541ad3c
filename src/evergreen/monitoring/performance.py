"""Live performance of the champion on labelled predictions, against its holdout metrics (pure).

The watched metric's drop is signed so that a positive number is always "worse": for metrics where
higher is better it is ``baseline - live``, for error metrics (rmse, mae, log loss) ``live -
baseline``. A drop above ``monitoring.performance_drop`` is reported as degraded. The realised value
needs ``monitoring.min_labels`` labelled rows; before that the CBPE estimate stands in for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evergreen.config import LOWER_IS_BETTER
from evergreen.evaluation.metrics import compute_metrics


def realised_metrics(
    task: str,
    labels: NDArray[Any],
    predicted: NDArray[Any],
    proba: NDArray[np.float64] | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """Task metrics on the rows that have a label (``None`` labels are skipped).

    Probability metrics (ROC AUC, log loss) are included only when every labelled row has
    probabilities, so they never silently describe a different subset than accuracy does.
    """
    known = np.array([v is not None for v in labels.tolist()], dtype=bool)
    if not known.any():
        return {}
    y, pred = labels[known], predicted[known]
    p = None
    if proba is not None and classes is not None:
        p = proba[known]
        if np.isnan(p).any():
            p = None
    if task == "regression":
        return compute_metrics(task, y.astype(np.float64), pred.astype(np.float64))
    return compute_metrics(task, y, pred, p, None if p is None else list(classes or []))


def metric_drop(metric: str, baseline: float, value: float) -> float:
    """How much worse ``value`` is than ``baseline`` (negative when it is better)."""
    return value - baseline if metric in LOWER_IS_BETTER else baseline - value


@dataclass(frozen=True)
class PerformanceCheck:
    metric: str
    baseline: float | None  # the champion's holdout value
    baseline_source: str | None  # decisions | mlflow | recomputed
    realised: float | None
    estimated: float | None
    labelled_rows: int
    rows: int
    threshold: float
    source: str | None  # which value the drop is measured on: realised | estimated | None
    drop: float | None
    degraded: bool

    @property
    def score(self) -> float | None:
        """``performance_drift_score``: the drop, floored at 0 (a better window is no drift)."""
        return None if self.drop is None else max(self.drop, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": self.score}


def check_performance(
    metric: str,
    baseline: float | None,
    realised: Mapping[str, float],
    estimated: Mapping[str, float],
    labelled_rows: int,
    rows: int,
    min_labels: int,
    threshold: float,
    baseline_source: str | None = None,
) -> PerformanceCheck:
    """Compare the window's realised (or, with too few labels, estimated) metric with the baseline."""
    real = realised.get(metric) if labelled_rows >= min_labels else None
    est = estimated.get(metric)
    value, source = (
        (real, "realised") if real is not None else (est, "estimated" if est is not None else None)
    )
    drop = None
    if baseline is not None and value is not None and math.isfinite(baseline) and math.isfinite(value):
        drop = metric_drop(metric, baseline, value)
    return PerformanceCheck(
        metric=metric,
        baseline=baseline,
        baseline_source=baseline_source,
        realised=real,
        estimated=est,
        labelled_rows=labelled_rows,
        rows=rows,
        threshold=threshold,
        source=source if drop is not None else None,
        drop=drop,
        degraded=drop is not None and drop > threshold,
    )
