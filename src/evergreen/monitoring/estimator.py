"""A performance estimator fitted on the reference holdout: CBPE or DLE, plus sampling errors.

``fit_estimator`` takes what is known on the holdout (labels, the model's predictions and
probabilities, the inputs for regression) and keeps only what a window needs later: the
calibration maps (classification), the two error models (regression) and one sampling-error scale
per metric (see :mod:`evergreen.monitoring.sampling`). The monitoring job fits one per reference;
:func:`evergreen.monitoring.estimate_performance` fits one per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evergreen.monitoring.calibration import Calibrator, FloatArray, IntArray, fit_calibrator
from evergreen.monitoring.dle import LossModel, fit_loss_model
from evergreen.monitoring.estimation import cbpe_metrics
from evergreen.monitoring.sampling import classification_scales, regression_scales, sigma

# Estimated metrics that go into a report; CBPE also yields per-class values, kept as well.
REGRESSION_ESTIMATES = ("mae", "rmse")


@dataclass(frozen=True)
class Estimator:
    task: str
    classes: tuple[Any, ...] | None
    calibrator: Calibrator | None = None
    loss_model: LossModel | None = None
    scales: Mapping[str, float] = field(default_factory=dict)

    def codes(self, labels: Sequence[Any] | np.ndarray) -> IntArray:
        """Column index of each label in the model's classes (-1: unknown label)."""
        return class_codes(list(self.classes or ()), labels)

    def estimate(
        self,
        proba: FloatArray | None = None,
        pred_codes: IntArray | None = None,
        features: pd.DataFrame | None = None,
        y_pred: FloatArray | None = None,
        orders: Mapping[int, IntArray] | None = None,
    ) -> dict[str, float]:
        """Estimated metrics of one window ({} when the inputs it needs are missing); ``orders``:
        the :func:`~evergreen.monitoring.calibration.score_orders` of ``proba``, if known."""
        if self.calibrator is not None and proba is not None and pred_codes is not None and len(pred_codes):
            return cbpe_metrics(self.calibrator, proba, pred_codes, list(self.classes or ()), orders)
        if self.loss_model is not None and features is not None and y_pred is not None and len(y_pred):
            est = self.loss_model.estimate(features, y_pred)
            return {k: v for k, v in est.items() if k in REGRESSION_ESTIMATES}
        return {}

    def sigma(self, metric: str, n: int) -> float | None:
        return sigma(self.scales, metric, n)

    def sigmas(self, metrics: Mapping[str, float], n: int) -> dict[str, float]:
        """Sampling error of each metric on ``n`` rows, for those with a known scale."""
        out = {}
        for name in metrics:
            s = self.sigma(name, n)
            if s is not None:
                out[name] = s
        return out


def class_codes(classes: Sequence[Any], labels: Sequence[Any] | np.ndarray) -> IntArray:
    """Column index of each label in ``classes`` (-1: unknown label)."""
    classes = list(classes)
    if isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and _few_whole_numbers(classes):
        if (
            classes == list(range(len(classes)))
            and labels.size
            and 0 <= labels.min() <= labels.max() < len(classes)
        ):
            return labels.astype(np.intp, copy=False)  # classes 0..k-1: each label is its own index
        # A few integer classes: one comparison per class is a fifth of the hash look-up.
        out = np.full(labels.shape, -1, dtype=np.intp)
        for k, c in enumerate(classes):
            out[labels == c] = k
        return out
    # One hash look-up of the whole column (a Python loop costs a second per million rows).
    return np.asarray(pd.Index(classes).get_indexer(pd.Index(labels)), dtype=np.intp)


def _few_whole_numbers(classes: Sequence[Any]) -> bool:
    """One to eight classes, all integers (bools are not: pandas keeps ``True`` apart from ``1``)."""
    return 0 < len(classes) <= 8 and all(
        isinstance(c, int | np.integer) and not isinstance(c, bool | np.bool_) and abs(int(c)) < 2**62
        for c in classes
    )


def fit_classification(
    true_labels: Sequence[Any] | np.ndarray,
    pred_labels: Sequence[Any] | np.ndarray,
    proba: FloatArray,
    classes: Sequence[Any],
) -> Estimator:
    """CBPE on the reference holdout; rows whose label or prediction the model does not know are left out."""
    est = Estimator("classification", tuple(classes))
    yt, yp = est.codes(true_labels), est.codes(pred_labels)
    p = np.asarray(proba, dtype=np.float64)
    keep = (yt >= 0) & (yp >= 0) & np.isfinite(p).all(axis=1)
    yt, yp, p = yt[keep], yp[keep], p[keep]
    if yt.size == 0:
        raise ValueError("no reference row has both a known label and a known prediction")
    return Estimator(
        "binary" if len(classes) == 2 else "multiclass",
        tuple(classes),
        calibrator=fit_calibrator(p, yt),
        scales=classification_scales(yt, yp, p, classes),
    )


def fit_scales(
    true_labels: Sequence[Any] | np.ndarray, pred_labels: Sequence[Any] | np.ndarray, classes: Sequence[Any]
) -> Estimator:
    """Sampling errors only, for a classifier without probabilities: nothing to estimate from, but
    its realised metrics still need their band (without one a verdict rests on a single number)."""
    est = Estimator("classification", tuple(classes))
    yt, yp = est.codes(true_labels), est.codes(pred_labels)
    keep = (yt >= 0) & (yp >= 0)
    if not keep.any():
        raise ValueError("no reference row has both a known label and a known prediction")
    task = "binary" if len(classes) == 2 else "multiclass"
    return Estimator(task, tuple(classes), scales=classification_scales(yt[keep], yp[keep], None, classes))


def fit_regression(
    features: pd.DataFrame, kinds: Mapping[str, str], y_true: FloatArray, y_pred: FloatArray
) -> Estimator:
    """DLE on the reference holdout (rows with a missing label or prediction are left out)."""
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    keep = np.isfinite(yt) & np.isfinite(yp)
    if not keep.any():
        raise ValueError("no reference row has both a label and a prediction")
    frame = features.loc[keep].reset_index(drop=True) if not keep.all() else features.reset_index(drop=True)
    return Estimator(
        "regression",
        None,
        loss_model=fit_loss_model(frame, kinds, yt[keep], yp[keep]),
        scales=regression_scales(yt[keep], yp[keep]),
    )
