"""Live performance of the champion on labelled predictions, against its holdout metrics (pure).

The watched metric's drop is signed so that a positive number is always "worse": for metrics where
higher is better it is ``baseline - live``, for error metrics (rmse, mae, log loss) ``live -
baseline``. The realised value needs ``monitoring.min_labels`` labelled rows; before that the CBPE /
DLE estimate stands in for it, on ``monitoring.min_rows`` scored rows. The verdict is
:func:`evergreen.evaluation.bands.judge_performance`: degraded when the drop exceeds
``monitoring.performance_drop`` and the value's whole sampling-error band lies below the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evergreen.data.values import canonical_str
from evergreen.evaluation.bands import Verdict, judge_performance, metric_drop
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
        # A label of a class the model has no probability column for has no probability to score.
        keys = {canonical_str(c) for c in classes}
        if np.isnan(p).any() or not all(canonical_str(v) in keys for v in y.tolist()):
            p = None
    if task == "regression":
        return compute_metrics(task, y.astype(np.float64), pred.astype(np.float64))
    return compute_metrics(task, y, pred, p, None if p is None else list(classes or []))


@dataclass(frozen=True)
class PerformanceCheck:
    metric: str
    baseline: float | None  # the champion's holdout value
    baseline_source: str | None  # decisions | mlflow | recomputed
    realised: float | None
    estimated: float | None
    labelled_rows: int
    rows: int
    threshold: float  # monitoring.performance_drop
    source: str | None  # which value the verdict is on: realised | estimated | None
    drop: float | None
    degraded: bool
    sigma: float | None = None  # sampling error of the judged value on its rows
    lower: float | None = None  # band: value +- band_sigmas * sigma
    upper: float | None = None
    band_sigmas: float = 3.0
    min_rows: int = 0
    verdict: Verdict = "insufficient_data"
    floor: float | None = None  # triggers.performance.min when it watches this metric

    @property
    def value(self) -> float | None:
        return self.realised if self.source == "realised" else self.estimated

    @property
    def score(self) -> float | None:
        """``performance_drift_score``: the drop, floored at 0; None without a verdict."""
        if self.verdict == "insufficient_data" or self.drop is None:
            return None
        return max(self.drop, 0.0)

    def to_dict(self) -> dict[str, Any]:
        band = None if self.lower is None else [self.lower, self.upper]
        return {**asdict(self), "value": self.value, "band": band, "score": self.score}


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
    *,
    sigmas: Mapping[str, Mapping[str, float]] | None = None,
    band_sigmas: float = 3.0,
    min_rows: int = 0,
    window_rows: int | None = None,
    floor: float | None = None,
) -> PerformanceCheck:
    """Judge the window's realised metric (``min_labels`` labelled rows) or, failing that, its
    estimate (``min_rows`` scored rows), with :func:`judge_performance`.

    ``sigmas``: ``{"realised": {metric: sigma}, "estimated": {metric: sigma}}``. A window of fewer than
    ``min_rows`` rows (``window_rows``, default ``rows``) gets no verdict at all. ``floor``: the
    absolute minimum (``triggers.performance.min``) the trigger and the alert also judge against,
    so the report never says "ok" about a window they act on.
    """
    real = realised.get(metric) if labelled_rows >= min_labels else None
    est = estimated.get(metric) if rows >= min_rows else None
    value, source = (
        (real, "realised") if real is not None else (est, "estimated" if est is not None else None)
    )
    if value is not None and not math.isfinite(value):
        value, source = None, None
    enough = (rows if window_rows is None else window_rows) >= min_rows
    sigma = (sigmas or {}).get(source or "", {}).get(metric)
    j = judge_performance(
        metric,
        value if enough else None,
        sigma,
        baseline=baseline,
        drop_limit=threshold,
        sigmas=band_sigmas,
        floor=floor,
    )
    return PerformanceCheck(
        metric=metric,
        baseline=baseline,
        baseline_source=baseline_source,
        realised=real,
        estimated=est,
        labelled_rows=labelled_rows,
        rows=rows,
        threshold=threshold,
        source=source if j.drop is not None or j.below_floor else None,
        drop=j.drop,
        degraded=j.degraded,
        sigma=sigma,
        lower=None if j.band is None else j.band.lower,
        upper=None if j.band is None else j.band.upper,
        band_sigmas=band_sigmas,
        min_rows=min_rows,
        verdict=j.verdict,
        floor=floor,
    )


__all__ = ["PerformanceCheck", "check_performance", "metric_drop", "realised_metrics"]
