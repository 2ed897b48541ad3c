"""Estimated and realised metrics per chunk of a plain DataFrame, for :func:`estimate_performance`.

The current side is checked here (probabilities in [0, 1], every label a class, finite predictions)
and each chunk's estimate and realised metrics worked out; :mod:`evergreen.monitoring.api` owns the
arguments, the sampling errors and the bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evergreen.errors import BadInputError, shown
from evergreen.evaluation.metrics import compute_metrics
from evergreen.monitoring.arguments import check_same_family, require_columns
from evergreen.monitoring.calibration import score_orders
from evergreen.monitoring.columns import SUM_TOLERANCE
from evergreen.monitoring.dle import summarize_losses
from evergreen.monitoring.drift import infer_kind
from evergreen.monitoring.estimation import realised_from_codes
from evergreen.monitoring.estimator import (
    REGRESSION_ESTIMATES,
    Estimator,
    class_codes,
    fit_classification,
    fit_regression,
)

Metrics = dict[str, float]


def classification_chunks(
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
            window: _Scored | Exception = _scored(current, columns, classes, y_true, y_pred, chunks)
        except Exception as exc:  # raised after the reference's problem, as a serial run would
            window = exc
        try:
            est = fitting.result()
        except (ValueError, TypeError) as exc:  # e.g. no usable reference row: say what to look at
            raise BadInputError(
                f"{exc}: check y_true, y_pred and y_pred_proba against the classes {shown(classes)}",
                details="reference",
            ) from None
        if isinstance(window, Exception):
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
    pred_codes = _codes(classes, current[y_pred].to_numpy(), "y_pred")  # once: a look-up costs per row
    label_codes, known = None, None
    if y_true in current.columns:
        labels = current[y_true].to_numpy()
        label_codes = _codes(classes, labels, "y_true")
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


def regression_chunks(
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
    absolute, squared = _predicted_losses(est, current, names, cur_pred)
    parts = []
    for start, stop in chunks:
        pred = cur_pred[start:stop]
        summary = summarize_losses(absolute[start:stop], squared[start:stop])
        estimated = {k: v for k, v in summary.items() if k in REGRESSION_ESTIMATES}
        realised: Metrics = {}
        if labels is not None:
            known = ~np.isnan(labels[start:stop])
            if known.any():
                realised = compute_metrics(task, labels[start:stop][known], pred[known])
        parts.append((estimated, realised))
    return est, parts


PREDICT_ROWS = 100_000  # rows predicted per call: LightGBM's cost per call is ~17 ms, per row ~4 us


def _predicted_losses(
    est: Estimator, current: pd.DataFrame, names: list[str], y_pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's predicted errors, in blocks of rows whatever the chunk size: per chunk, a
    ``chunk_size=1`` on 100k rows made 200k calls (about an hour); one call for all rows would
    hold a copy of every input at once."""
    assert est.loss_model is not None  # fit_regression sets it
    absolute, squared = [], []
    for start in range(0, len(current), PREDICT_ROWS):
        block = current.iloc[start : start + PREDICT_ROWS][names].reset_index(drop=True)
        a, s = est.loss_model.losses(block, y_pred[start : start + PREDICT_ROWS])
        absolute.append(a)
        squared.append(s)
    return np.concatenate(absolute), np.concatenate(squared)


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


def _booleans(column: pd.Series) -> bool:
    """True/False values, as a bool column or as objects (a bool column with a None in it)."""
    if pd.api.types.is_bool_dtype(column):
        return True
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "boolean"


def _matrix(frame: pd.DataFrame, columns: Sequence[str], side: str) -> np.ndarray:
    """The probability matrix of one side, checked: each present value in [0, 1] and, with a
    column per class, each complete row summing to 1 (else CBPE reads certainty that is not there:
    rows of zeros gave an estimated accuracy of 0.33 against a realised 0.75)."""
    require_columns(frame, columns, side, "y_pred_proba")
    flags = [c for c in columns if _booleans(frame[c])]
    if flags:  # read as 0 and 1 they were certainty, not probabilities (often y_pred passed twice)
        raise BadInputError(
            f"y_pred_proba column(s) {shown(flags)} in the {side} data hold True/False, not probabilities",
            details="y_pred_proba",
        )
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


def _codes(classes: list[Any], values: np.ndarray, argument: str) -> np.ndarray:
    """Each value's class index, every present value checked to be a class."""
    try:
        codes = class_codes(classes, values)
    except TypeError:  # lists or dicts in a cell: pandas cannot hash them
        raise BadInputError(
            f"{argument} holds values that cannot be compared with the classes {shown(classes)} "
            "(lists or mappings in a cell)",
            details=argument,
        ) from None
    _check_codes(classes, values, codes, argument)
    return codes


def _check_codes(classes: list[Any], values: np.ndarray, codes: np.ndarray, argument: str) -> None:
    """Every present value one of the classes (``codes``: their :func:`class_codes`). Anything
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
