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

from collections.abc import Mapping
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

    def apply(self, proba: FloatArray, orders: Mapping[int, IntArray] | None = None) -> FloatArray:
        """The calibrated matrix. ``orders``: :func:`score_orders` of ``proba`` when the caller
        has them (the maps then run over sorted scores, which is many times faster: ``np.interp``
        looks each value up from where the last one was found)."""
        p = np.asarray(proba, dtype=np.float64)
        orders = orders or {}
        if self.n_classes == 2:
            pos = _map(self.knots[0], p[:, 1], orders.get(1))
            return np.column_stack([1.0 - pos, pos])
        out = np.column_stack([_map(k, p[:, c], orders.get(c)) for c, k in enumerate(self.knots)])
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / self.n_classes)
        return np.divide(out, total, out=uniform, where=total != 0)

    def map_column(self, column: int, scores: FloatArray) -> FloatArray:
        """One column's map alone (multiclass rows are renormalised by :meth:`apply`, not here). A
        binary calibrator has one map, the positive class's (column 1)."""
        return _map(self.knots[0] if self.n_classes == 2 else self.knots[column], scores)

    @property
    def calibrated(self) -> tuple[bool, ...]:
        return tuple(k is not None for k in self.knots)


def scored_columns(n_classes: int) -> list[int]:
    """The probability columns CBPE reads: the positive class of a binary model, else every class."""
    return [1] if n_classes == 2 else list(range(n_classes))


def score_orders(proba: FloatArray) -> dict[int, IntArray]:
    """The ascending order of each scored column, sorted once per window and shared by the
    calibration maps, the estimated and the realised ROC AUC (each sorted it again)."""
    p = np.asarray(proba, dtype=np.float64)
    return {c: np.argsort(p[:, c]) for c in scored_columns(p.shape[1])}


def rank_auc(positive: NDArray[np.bool_], score: FloatArray, order: IntArray | None = None) -> float | None:
    """ROC AUC as the Mann-Whitney U (ties share their average rank): sklearn's ``roc_auc_score``
    to rounding, without its per-call validation. ``None`` when one class is absent. ``order``:
    any ascending order of ``score`` (tied scores share a rank, so which one does not matter)."""
    n_pos = int(np.count_nonzero(positive))
    if n_pos == 0 or n_pos == positive.size:
        return None
    if order is None:
        order = np.argsort(score)
    s = score[order]
    ties = s[1:] == s[:-1]
    if ties.any():
        starts = np.concatenate([[0], np.flatnonzero(~ties) + 1])
        ends = np.concatenate([starts[1:], [s.size]])
        average = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
        rank_sum = float(np.sum(np.repeat(average, ends - starts) * positive[order]))
    else:  # every score its own rank: a positive's rank is its 1-based place
        rank_sum = float(np.flatnonzero(positive[order]).sum() + n_pos)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * (positive.size - n_pos))


def _map(knots: Knots | None, x: FloatArray, order: IntArray | None = None) -> FloatArray:
    # np.interp clamps outside the knots: IsotonicRegression(out_of_bounds="clip").
    if knots is None:
        return x
    if order is None:
        return np.interp(x, knots[0], knots[1])
    out = np.empty_like(x)
    out[order] = np.interp(x[order], knots[0], knots[1])  # the same values, found in sorted order
    return out


def _isotonic(x: FloatArray, y: FloatArray, order: IntArray | None = None) -> Knots:
    """sklearn's ``IsotonicRegression(out_of_bounds="clip").fit(x, y)`` thresholds, computed
    directly: rows in ``np.lexsort((y, x))`` order (pass ``order`` when it is known), then
    :func:`_isotonic_sorted`. Skipping sklearn's per-fit validation and re-sorting is what makes
    eleven fits on 100k rows cheap."""
    if order is None:
        order = np.lexsort((y, x))
    return _isotonic_sorted(x[order], y[order])


def _isotonic_sorted(xs: FloatArray, ys: FloatArray) -> Knots:
    """The isotonic fit of rows already in ``np.lexsort((y, x))`` order: equal ``x`` pooled
    (sklearn's ``_make_unique``: within float64 resolution), scipy's PAVA on the pooled means
    weighted by their counts, then the interior knots that change nothing dropped."""
    from scipy.optimize import isotonic_regression

    apart = np.diff(xs) >= np.finfo(np.float64).resolution
    if apart.all():  # nothing to pool (the usual case for continuous scores)
        ux, fitted = xs, np.asarray(isotonic_regression(ys).x)
    else:
        starts = np.concatenate([[0], np.flatnonzero(apart) + 1])
        counts = np.diff(np.concatenate([starts, [xs.size]])).astype(np.float64)
        ux = xs[starts]
        fitted = np.asarray(isotonic_regression(np.add.reduceat(ys, starts) / counts, weights=counts).x)
    keep = np.ones(fitted.size, dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return ux[keep], fitted[keep]


def _stratified_splits(y: FloatArray) -> list[tuple[IntArray, IntArray]]:
    """sklearn's ``StratifiedShuffleSplit(10, test_size=0.1, random_state=42).split`` (the same
    random draws in the same order, so the same rows), with numpy concatenation instead of its
    Python lists, which take most of the time on 100k rows."""
    from sklearn.utils.extmath import _approximate_mode

    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError("a class has a single row")
    n_test = int(np.ceil(0.1 * y.size))
    n_train = y.size - n_test
    if n_train < classes.size or n_test < classes.size:
        raise ValueError("too few rows to split")
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(CALIBRATION_SEED)
    out = []
    for _ in range(CALIBRATION_SPLITS):
        n_i = _approximate_mode(counts, n_train, rng)
        t_i = _approximate_mode(counts - n_i, n_test, rng)
        train, test = [], []
        for i in range(classes.size):
            members = by_class[i].take(rng.permutation(counts[i]), mode="clip")
            train.append(members[: n_i[i]])
            test.append(members[n_i[i] : n_i[i] + t_i[i]])
        out.append((rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))))
    return out


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


def needs_calibration(y: FloatArray, p: FloatArray, order: IntArray | None = None) -> bool:
    """Whether an isotonic map lowers the held-out ECE of one probability column (0/1 ``y``).

    ``order``: ``np.lexsort((y, p))`` if the caller has it (it is shared with the final fit).
    """
    if order is None:
        order = np.lexsort((y, p))
    auc = rank_auc(y == 1, p, order)  # lexsort((y, p)) is an ascending order of p
    if auc is None or auc > SEPARABLE_AUC:  # one class only, or nothing left to fix
        return False
    try:
        folds = _stratified_splits(y)
    except ValueError:  # a class with a single row cannot be split: too little to calibrate on
        return False
    xs, ys = p[order], y[order]
    truth, raw, mapped = [], [], []
    for train, test in folds:
        member = np.zeros(y.size, dtype=bool)
        member[train] = True
        in_train = member[order]  # the sorted rows restricted to the train rows stay sorted
        knots = _isotonic_sorted(xs[in_train], ys[in_train])
        truth.append(y[test])
        raw.append(p[test])
        mapped.append(_map(knots, p[test]))
    yt, before, after = np.concatenate(truth), np.concatenate(raw), np.concatenate(mapped)
    if len(before) < 4:
        return False
    edges = _bin_edges(len(before), ECE_BINS)
    return expected_calibration_error(yt, before, edges) > expected_calibration_error(yt, after, edges)


def _label_order(y: FloatArray, p: FloatArray) -> IntArray:
    """``np.lexsort((y, p))``: by score, ties by label. Scores rarely tie, and without ties any
    ascending order of ``p`` is that order; one quicksort costs a fifth of the lexsort."""
    order = np.argsort(p)
    s = p[order]
    return order if not (s[1:] == s[:-1]).any() else np.lexsort((y, p))


def fit_calibrator(proba: FloatArray, true_codes: IntArray) -> Calibrator:
    """Fit on the reference holdout: ``proba`` (rows, classes), ``true_codes`` column index of the label."""
    p = np.asarray(proba, dtype=np.float64)
    codes = np.asarray(true_codes)
    k = p.shape[1]
    knots: list[Knots | None] = []
    for c in [1] if k == 2 else range(k):
        y = (codes == c).astype(np.float64)
        order = _label_order(y, p[:, c])
        knots.append(_isotonic(p[:, c], y, order) if needs_calibration(y, p[:, c], order) else None)
    return Calibrator(k, tuple(knots))
