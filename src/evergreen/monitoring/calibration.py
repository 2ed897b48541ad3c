"""Probability calibration for confidence-based estimation, decided the way NannyML 0.13 decides it.

CBPE reads a window's expected confusion matrix off the model's probabilities, which is only right
when they are calibrated. Each calibrated column gets an isotonic map fitted on the reference
holdout, but only when that map helps: NannyML's ``needs_calibration`` fits it in ten seeded 90/10
splits and keeps it only if the expected calibration error (ECE) of the held-out tenths goes down;
a column whose ROC AUC is already above 0.999, or a one-class column, is left as it is. Following
it exactly keeps evergreen's estimates equal to NannyML's (the benchmark checks 1e-6).

Binary models calibrate the positive class only; multiclass models calibrate each class
one-vs-rest and renormalise the rows (a row every map sends to 0 becomes uniform).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Knots = tuple[FloatArray, FloatArray]

ECE_BINS = 10
CALIBRATION_SPLITS = 10
CALIBRATION_SEED = 42  # NannyML's StratifiedShuffleSplit random_state
SEPARABLE_AUC = 0.999  # above it there is nothing for a calibrator to fix


@dataclass(frozen=True)
class Calibrator:
    """Isotonic maps as (x, y) knots, one per calibrated column; ``None``: the column is kept as is."""

    n_classes: int
    knots: tuple[Knots | None, ...]

    def apply(self, proba: FloatArray) -> FloatArray:
        p = np.asarray(proba, dtype=np.float64)
        if self.n_classes == 2:
            pos = _map(self.knots[0], p[:, 1])
            return np.column_stack([1.0 - pos, pos])
        out = np.column_stack([_map(k, p[:, c]) for c, k in enumerate(self.knots)])
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / self.n_classes)
        return np.divide(out, total, out=uniform, where=total != 0)

    @property
    def calibrated(self) -> tuple[bool, ...]:
        return tuple(k is not None for k in self.knots)


def _map(knots: Knots | None, x: FloatArray) -> FloatArray:
    # np.interp clamps outside the knots: IsotonicRegression(out_of_bounds="clip").
    return x if knots is None else np.interp(x, knots[0], knots[1])


def _isotonic(x: FloatArray, y: FloatArray) -> Knots:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(x, y)
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)


def _bin_edges(length: int, bins: int) -> list[tuple[int, int]]:
    if length <= 2 * bins:
        bins = length // 2
        if bins < 2:
            raise ValueError(f"{length} rows cannot be split into 2 calibration bins")
    width = length // bins
    edges = np.asarray(range(0, length + 1, width))
    edges[-1] = length
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def expected_calibration_error(y: FloatArray, p: FloatArray, edges: list[tuple[int, int]]) -> float:
    """ECE over equal-count bins of the sorted scores (NannyML's definition)."""
    order = p.argsort()
    p, y = p[order], y[order]
    return float(sum((r - left) / len(p) * abs(p[left:r].mean() - y[left:r].mean()) for left, r in edges))


def needs_calibration(y: FloatArray, p: FloatArray) -> bool:
    """Whether an isotonic map lowers the held-out ECE of one probability column (0/1 ``y``)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    if np.unique(y).size == 1 or roc_auc_score(y, p) > SEPARABLE_AUC:
        return False
    splits = StratifiedShuffleSplit(n_splits=CALIBRATION_SPLITS, test_size=0.1, random_state=CALIBRATION_SEED)
    truth, raw, mapped = [], [], []
    try:
        folds = list(splits.split(p, y))
    except ValueError:  # a class with a single row cannot be split: too little to calibrate on
        return False
    for train, test in folds:
        knots = _isotonic(p[train], y[train])
        truth.append(y[test])
        raw.append(p[test])
        mapped.append(_map(knots, p[test]))
    yt, before, after = np.concatenate(truth), np.concatenate(raw), np.concatenate(mapped)
    if len(before) < 4:
        return False
    edges = _bin_edges(len(before), ECE_BINS)
    return expected_calibration_error(yt, before, edges) > expected_calibration_error(yt, after, edges)


def fit_calibrator(proba: FloatArray, true_codes: IntArray) -> Calibrator:
    """Fit on the reference holdout: ``proba`` (rows, classes), ``true_codes`` column index of the label."""
    p = np.asarray(proba, dtype=np.float64)
    codes = np.asarray(true_codes)
    k = p.shape[1]
    knots: list[Knots | None] = []
    for c in [1] if k == 2 else range(k):
        y = (codes == c).astype(np.float64)
        knots.append(_isotonic(p[:, c], y) if needs_calibration(y, p[:, c]) else None)
    return Calibrator(k, tuple(knots))
