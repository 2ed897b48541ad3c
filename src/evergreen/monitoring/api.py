"""``estimate_performance``: estimated (and realised) performance of plain DataFrames, no project.

Like NannyML's CBPE / DLE: ``reference`` holds the model's outputs *and* the labels on data it was
not trained on; ``current`` holds the outputs (and, when they exist, the labels). Column arguments
name columns of both frames::

    est = estimate_performance(ref, cur, task="binary", y_pred_proba="p_yes", y_pred="pred",
                               y_true="label", chunk_size=5000)
    est.to_frame()   # one row per chunk and metric: estimated, sigma, band, realised

Classification: ``y_pred_proba`` is the positive class's probability column (binary, classes 0/1
or the sorted labels) or a ``{class: column}`` mapping. Regression: the other columns of the frames
(or ``features``) are the inputs the error models learn from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evergreen.errors import BadInputError, shown
from evergreen.evaluation.bands import band
from evergreen.evaluation.metrics import TASKS, compute_metrics, is_classification
from evergreen.monitoring.arguments import (
    check_frames,
    check_number,
    check_same_family,
    check_whole_number,
    require_columns,
)
from evergreen.monitoring.calibration import score_orders
from evergreen.monitoring.columns import SUM_TOLERANCE
from evergreen.monitoring.drift import infer_kind
from evergreen.monitoring.estimation import realised_from_codes
from evergreen.monitoring.estimator import Estimator, class_codes, fit_classification, fit_regression

DEFAULT_BAND_SIGMAS = 3.0


@dataclass(frozen=True)
class MetricEstimate:
    metric: str
    estimated: float | None
    sampling_error: float | None  # NannyML's: std of the metric over samples of the chunk's size
    lower: float | None  # estimated +- band_sigmas * sampling_error
    upper: float | None
    realised: float | None  # from the chunk's labels, when it has them


@dataclass(frozen=True)
class ChunkEstimate:
    index: int
    start: int  # first row (position in ``current``)
    stop: int  # one past the last row
    metrics: Mapping[str, MetricEstimate]

    @property
    def rows(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class PerformanceEstimate:
    task: str
    classes: tuple[Any, ...] | None
    chunks: tuple[ChunkEstimate, ...]
    calibrated: tuple[bool, ...]  # per calibrated probability column: was an isotonic map used

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {"chunk": c.index, "start": c.start, "stop": c.stop, "rows": c.rows, **vars(m)}
            for c in self.chunks
            for m in c.metrics.values()
        ]
        return pd.DataFrame(rows)


def _proba_columns(
    task: str, y_pred_proba: object, ref: pd.DataFrame, y_true: str
) -> tuple[list[Any], list[str]]:
    if y_pred_proba is None:
        raise BadInputError(f"task {task} needs y_pred_proba", details="y_pred_proba")
    present = pd.unique(ref[y_true].dropna()).tolist()
    if isinstance(y_pred_proba, str):
        if task != "binary":
            raise BadInputError(
                "multiclass y_pred_proba must map each class to a column", details="y_pred_proba"
            )
        classes = _sorted_classes(present, "y_true")
        if len(classes) != 2:
            raise BadInputError(
                f"binary y_true has {len(classes)} classes in the reference", details="y_true"
            )
        return classes, [y_pred_proba]
    if not isinstance(y_pred_proba, Mapping):
        raise BadInputError(
            "y_pred_proba must be a column name (binary) or a mapping of each class to its column, "
            f"not {type(y_pred_proba).__name__}",
            details="y_pred_proba",
        )
    classes = _sorted_classes(list(y_pred_proba), "y_pred_proba")
    columns = [y_pred_proba[c] for c in classes]
    if len(classes) < 2 or (task == "binary" and len(classes) != 2):
        wanted = "2 classes" if task == "binary" else "at least 2 classes"
        raise BadInputError(
            f"{task} y_pred_proba must map {wanted}, it maps {len(classes)}", details="y_pred_proba"
        )
    if len(set(columns)) != len(columns):
        raise BadInputError(
            f"y_pred_proba maps two classes to the same column: {shown(columns)}", details="y_pred_proba"
        )
    unmapped = [c for c in present if c not in set(classes)]
    if unmapped:
        raise BadInputError(
            f"y_true holds classes in the reference that y_pred_proba does not map: {shown(unmapped)} "
            f"(it maps {shown(classes)})",
            details="y_pred_proba",
        )
    return classes, columns


def _sorted_classes(classes: list[Any], argument: str) -> list[Any]:
    try:
        return sorted(classes)
    except TypeError:
        raise BadInputError(
            f"the classes of {argument} mix types that do not sort: {shown(classes)}", details=argument
        ) from None


def _floats(frame: pd.DataFrame, columns: Sequence[Any], side: str, argument: str) -> np.ndarray:
    require_columns(frame, columns, side, argument)
    try:
        return frame[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise BadInputError(
            f"{argument} column(s) {shown(list(columns))} in the {side} data hold values that are "
            "not numbers",
            details=argument,
        ) from None


def _outside_unit(p: np.ndarray) -> bool:
    """Whether a finite value lies outside [0, 1]; missing and infinite values are the callers' to
    refuse. The minimum and maximum skip NaN without copying the present values out first."""
    if p.size == 0:
        return False
    lo, hi = np.fmin.reduce(p, axis=None), np.fmax.reduce(p, axis=None)
    if np.isnan(lo):  # nothing present
        return False
    if not (np.isfinite(lo) and np.isfinite(hi)):
        known = p[np.isfinite(p)]
        return bool(((known < 0) | (known > 1)).any())
    return bool(lo < 0 or hi > 1)


def _matrix(frame: pd.DataFrame, columns: Sequence[str], side: str) -> np.ndarray:
    """The probability matrix of one side, checked: each present value in [0, 1] and, with a
    column per class, each complete row summing to 1 (else CBPE reads certainty that is not there:
    rows of zeros gave an estimated accuracy of 0.33 against a realised 0.75)."""
    p = _floats(frame, columns, side, "y_pred_proba")
    if _outside_unit(p):
        raise BadInputError(
            f"y_pred_proba in the {side} data must be numbers in [0, 1] (out of range found)",
            details="y_pred_proba",
        )
    if p.shape[1] == 1:
        # Column-major: each class's column is contiguous, as the per-column sorts and maps want.
        both = np.empty((p.shape[0], 2), order="F")
        np.subtract(1.0, p[:, 0], out=both[:, 0])
        both[:, 1] = p[:, 0]
        return both
    complete = np.isfinite(p).all(axis=1)
    off = np.abs(p[complete].sum(axis=1) - 1.0) > SUM_TOLERANCE
    if off.any():
        raise BadInputError(
            f"y_pred_proba rows in the {side} data must sum to 1: {int(off.sum())} rows do not "
            f"(e.g. {float(p[complete][off][0].sum()):.4g})",
            details="y_pred_proba",
        )
    return p


def _check_codes(classes: list[Any], values: np.ndarray, codes: np.ndarray, argument: str) -> None:
    """Every present value one of the classes (``codes``: their :meth:`Estimator.codes`). Anything
    else was read silently: an unknown prediction as the last class (index -1); an unknown label
    made sklearn fail deep inside the realised metrics."""
    if codes.size == 0 or codes.min() >= 0:  # one pass when every value is a class (the usual case)
        return
    unknown = values[(codes < 0) & pd.notna(values)]
    if unknown.size:
        raise BadInputError(
            f"{argument} holds {unknown.size} values that are not classes of the reference "
            f"{shown(classes)}, e.g. {shown(unknown[0])}",
            details=argument,
        )


def _chunks(n: int, chunk_size: int | None) -> list[tuple[int, int]]:
    if chunk_size is None:
        return [(0, n)]
    # NannyML's SizeBasedChunker (incomplete="keep"): a shorter last chunk is its own chunk.
    return [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


def estimate_performance(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    task: str,
    y_pred: str,
    y_true: str,
    y_pred_proba: str | Mapping[Any, str] | None = None,
    features: Sequence[str] | None = None,
    chunk_size: int | None = None,
    band_sigmas: float = DEFAULT_BAND_SIGMAS,
) -> PerformanceEstimate:
    """Per chunk of ``current`` (or the whole frame): estimated metrics with sampling errors and
    bands, and the realised metrics where ``y_true`` is in ``current``."""
    check_frames(reference, current)
    if task not in TASKS:
        raise BadInputError(f"task {shown(task)}: use one of {', '.join(sorted(TASKS))}", details="task")
    band_sigmas = check_number(band_sigmas, "band_sigmas", above=0.0)
    if chunk_size is not None:
        chunk_size = check_whole_number(chunk_size, "chunk_size", minimum=1)
    require_columns(reference, [y_true], "reference", "y_true")
    require_columns(reference, [y_pred], "reference", "y_pred")
    require_columns(current, [y_pred], "current", "y_pred")
    if len(current) == 0:
        raise BadInputError("the current data has no rows", details="current")
    chunks = _chunks(len(current), chunk_size)
    classes: list[Any] | None = None
    if is_classification(task):
        classes, columns = _proba_columns(task, y_pred_proba, reference, y_true)
        est, parts = _classification(reference, current, classes, columns, y_true, y_pred, chunks)
    else:
        est, parts = _regression(reference, current, task, features, y_true, y_pred, chunks)
    out = []
    for index, ((start, stop), (estimated, realised)) in enumerate(zip(chunks, parts, strict=True)):
        metrics = {}
        for name in sorted(set(estimated) | set(realised)):
            value = estimated.get(name)
            s = est.sigma(name, stop - start)
            b = band(value, s, band_sigmas, name) if value is not None else None
            metrics[name] = MetricEstimate(
                name,
                value,
                s,
                None if b is None else b.lower,
                None if b is None else b.upper,
                realised.get(name),
            )
        out.append(ChunkEstimate(index, start, stop, metrics))
    calibrated = () if est.calibrator is None else est.calibrator.calibrated
    return PerformanceEstimate(task, None if classes is None else tuple(classes), tuple(out), calibrated)


Metrics = dict[str, float]


def _classification(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    classes: list[Any],
    columns: list[str],
    y_true: str,
    y_pred: str,
    chunks: list[tuple[int, int]],
) -> tuple[Estimator, list[tuple[Metrics, Metrics]]]:
    """CBPE per chunk. The reference fit (the calibration check's ten seeded splits, the isotonic
    maps, the sampling scales) and the current side's checks, sorts and realised metrics need
    nothing of each other, so the fit runs on a second thread meanwhile, and the chunks' estimates
    are then shared by two threads: the numpy work releases the GIL, and on two cores a million
    rows take about half the time."""
    ref_proba = _matrix(reference, columns, "reference")
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="evergreen-cbpe") as pool:
        fitting = pool.submit(
            fit_classification, reference[y_true].to_numpy(), reference[y_pred].to_numpy(), ref_proba, classes
        )
        try:
            window: _Scored | BadInputError = _scored(current, columns, classes, y_true, y_pred, chunks)
        except BadInputError as exc:  # named after the reference's problem, as a serial run would
            window = exc
        try:
            est = fitting.result()
        except ValueError as exc:  # no usable reference row: say which arguments to look at
            raise BadInputError(
                f"{exc}: check y_true, y_pred and y_pred_proba against the classes {shown(classes)}",
                details="reference",
            ) from None
        if isinstance(window, BadInputError):
            raise window
        scored = window

        def estimate(index: int) -> Metrics:
            start, stop = chunks[index]
            proba, pred_codes = scored.proba[start:stop], scored.pred_codes[start:stop]
            return est.estimate(proba=proba, pred_codes=pred_codes, orders=scored.orders[index])

        estimated = list(pool.map(estimate, range(len(chunks))))
    parts = list(zip(estimated, scored.realised, strict=True))
    return est, parts


@dataclass(frozen=True)
class _Scored:
    """The current side of a classification, checked: probabilities, class codes, and per chunk
    the score orders and the realised metrics (empty without labels)."""

    proba: np.ndarray
    pred_codes: np.ndarray
    orders: list[dict[int, np.ndarray]]
    realised: list[Metrics]


def _scored(
    current: pd.DataFrame,
    columns: list[str],
    classes: list[Any],
    y_true: str,
    y_pred: str,
    chunks: list[tuple[int, int]],
) -> _Scored:
    proba = _matrix(current, columns, "current")
    if not np.isfinite(proba).all():  # a NaN was a NaN estimate; 1.7 more than certain
        raise BadInputError(
            "y_pred_proba must be numbers in [0, 1] on every current row (missing found)",
            details="y_pred_proba",
        )
    predicted = current[y_pred].to_numpy()
    pred_codes = class_codes(classes, predicted)  # once for the whole frame: a look-up costs per row
    _check_codes(classes, predicted, pred_codes, "y_pred")
    label_codes, known = None, None
    if y_true in current.columns:
        labels = current[y_true].to_numpy()
        label_codes = class_codes(classes, labels)
        _check_codes(classes, labels, label_codes, "y_true")
        known = pd.notna(labels)
    orders, realised = [], []
    for start, stop in chunks:
        chunk_orders = score_orders(proba[start:stop])  # sorted once for the maps and both AUCs
        orders.append(chunk_orders)
        metrics: Metrics = {}
        if label_codes is not None and known is not None and known[start:stop].any():
            # Every label a class here: y_pred and y_true were checked above.
            if known[start:stop].all():  # no copies (a boolean mask copies the rows); the orders hold
                args = (label_codes[start:stop], pred_codes[start:stop], proba[start:stop])
                metrics = realised_from_codes(*args, classes, chunk_orders)
            else:
                mask = known[start:stop]
                args = (label_codes[start:stop][mask], pred_codes[start:stop][mask], proba[start:stop][mask])
                metrics = realised_from_codes(*args, classes)
        realised.append(metrics)
    return _Scored(proba, pred_codes, orders, realised)


def _regression(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    task: str,
    features: Sequence[str] | None,
    y_true: str,
    y_pred: str,
    chunks: list[tuple[int, int]],
) -> tuple[Estimator, list[tuple[Metrics, Metrics]]]:
    """DLE per chunk: error models of the reference's inputs, read on each chunk's."""
    if isinstance(features, str):
        raise BadInputError("features must be a list of column names, not one string", details="features")
    skip = {y_pred, y_true}
    names = list(features) if features is not None else [c for c in reference.columns if c not in skip]
    require_columns(reference, names, "reference", "features")
    require_columns(current, names, "current", "features")
    for name in names:
        check_same_family(name, reference[name], current[name])
    kinds = {c: infer_kind(reference[c]) or "" for c in names}
    ref_truth = _floats(reference, [y_true], "reference", "y_true")[:, 0]
    try:
        est = fit_regression(
            reference[names], kinds, ref_truth, _floats(reference, [y_pred], "reference", "y_pred")[:, 0]
        )
    except ValueError as exc:
        raise BadInputError(f"{exc}: check y_true and y_pred", details="reference") from None
    cur_pred = _floats(current, [y_pred], "current", "y_pred")[:, 0]
    if not np.isfinite(cur_pred).all():
        raise BadInputError(
            "y_pred must be a finite number on every current row (missing or inf found)", details="y_pred"
        )
    labels = None
    if y_true in current.columns:
        labels = _floats(current, [y_true], "current", "y_true")[:, 0]
        labels = np.where(np.isfinite(labels), labels, np.nan)  # an inf label is no label
    parts = []
    for start, stop in chunks:
        pred = cur_pred[start:stop]
        estimated = est.estimate(features=current.iloc[start:stop][names].reset_index(drop=True), y_pred=pred)
        realised: Metrics = {}
        if labels is not None:
            known = ~np.isnan(labels[start:stop])
            if known.any():
                realised = compute_metrics(task, labels[start:stop][known], pred[known])
        parts.append((estimated, realised))
    return est, parts
