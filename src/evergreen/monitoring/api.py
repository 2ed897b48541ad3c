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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evergreen.errors import BadInputError
from evergreen.evaluation.bands import band
from evergreen.evaluation.metrics import compute_metrics, is_classification
from evergreen.monitoring.drift import infer_kind
from evergreen.monitoring.estimation import realised_from_codes
from evergreen.monitoring.estimator import Estimator, fit_classification, fit_regression

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
    task: str, y_pred_proba: str | Mapping[Any, str] | None, ref: pd.DataFrame, y_true: str
) -> tuple[list[Any], list[str]]:
    if y_pred_proba is None:
        raise BadInputError(f"task {task} needs y_pred_proba", details="y_pred_proba")
    if isinstance(y_pred_proba, str):
        if task != "binary":
            raise BadInputError(
                "multiclass y_pred_proba must map each class to a column", details="y_pred_proba"
            )
        classes = sorted(pd.unique(ref[y_true].dropna()).tolist())
        if len(classes) != 2:
            raise BadInputError(
                f"binary y_true has {len(classes)} classes in the reference", details="y_true"
            )
        return classes, [y_pred_proba]
    classes = sorted(y_pred_proba)
    return classes, [y_pred_proba[c] for c in classes]


def _matrix(frame: pd.DataFrame, columns: Sequence[str], side: str) -> np.ndarray:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadInputError(f"the {side} data lacks the columns {missing}", details=missing)
    p = frame[list(columns)].to_numpy(dtype=np.float64)
    return np.column_stack([1.0 - p[:, 0], p[:, 0]]) if p.shape[1] == 1 else p


def _check_outputs(est: Estimator, pred: np.ndarray, proba: np.ndarray, y_pred: str) -> None:
    """The current outputs CBPE reads: every prediction one of the classes, every probability a
    number in [0, 1]. Anything else was read silently: an unknown label as the last class (index
    -1), a NaN as a NaN estimate, 1.7 as more than a certain row."""
    unknown = pred[est.codes(pred) < 0]
    if unknown.size:
        raise BadInputError(
            f"y_pred holds {unknown.size} values that are not classes of the reference "
            f"{list(est.classes or ())}, e.g. {unknown[0]!r}",
            details="y_pred",
        )
    if not (np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()):
        raise BadInputError(
            "y_pred_proba must be numbers in [0, 1] on every current row (missing or out of range found)",
            details="y_pred_proba",
        )


def _chunks(n: int, chunk_size: int | None) -> list[tuple[int, int]]:
    if chunk_size is None:
        return [(0, n)]
    if chunk_size < 1:
        raise BadInputError("chunk_size must be at least 1", details="chunk_size")
    # NannyML's SizeBasedChunker (incomplete="keep"): a shorter last chunk is its own chunk.
    return [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


def _realised(
    est: Estimator, truth: np.ndarray, pred: np.ndarray, proba: np.ndarray, task: str, classes: list[Any]
) -> dict[str, float]:
    yt, yp = est.codes(truth), est.codes(pred)
    if (yt < 0).any() or (yp < 0).any():  # a label the model does not know: sklearn handles it
        return compute_metrics(task, truth, pred, proba, classes)
    return realised_from_codes(yt, yp, proba, classes)


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
    if y_true not in reference.columns:
        raise BadInputError("the reference data needs the y_true column", details="y_true")
    ref_pred = reference[y_pred].to_numpy()
    classes: list[Any] | None = None
    if is_classification(task):
        classes, columns = _proba_columns(task, y_pred_proba, reference, y_true)
        est: Estimator = fit_classification(
            reference[y_true].to_numpy(), ref_pred, _matrix(reference, columns, "reference"), classes
        )
        cur_proba = _matrix(current, columns, "current")
        _check_outputs(est, current[y_pred].to_numpy(), cur_proba, y_pred)
    else:
        skip = {y_pred, y_true}
        names = list(features) if features is not None else [c for c in reference.columns if c not in skip]
        kinds = {c: infer_kind(reference[c]) or "" for c in names}
        est = fit_regression(
            reference[names], kinds, reference[y_true].to_numpy(np.float64), ref_pred.astype(np.float64)
        )
    labels = current[y_true] if y_true in current.columns else None
    out = []
    for index, (start, stop) in enumerate(_chunks(len(current), chunk_size)):
        part = current.iloc[start:stop]
        pred = part[y_pred].to_numpy()
        if classes is not None:
            estimated = est.estimate(proba=cur_proba[start:stop], pred_codes=est.codes(pred))
        else:
            feats = part[names].reset_index(drop=True)
            estimated = est.estimate(features=feats, y_pred=pred.astype(np.float64))
        realised: dict[str, float] = {}
        if labels is not None:
            known = part[y_true].notna().to_numpy()
            if known.any():
                truth = part[y_true].to_numpy()[known]
                if classes is None:
                    realised = compute_metrics(task, truth, pred[known])
                else:
                    realised = _realised(est, truth, pred[known], cur_proba[start:stop][known], task, classes)
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
