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

import pandas as pd

from evergreen.errors import BadInputError, shown
from evergreen.evaluation.bands import band
from evergreen.evaluation.metrics import TASKS, is_classification
from evergreen.monitoring.arguments import (
    check_frames,
    check_number,
    check_whole_number,
    require_columns,
)
from evergreen.monitoring.chunked import classification_chunks, regression_chunks

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
    if task == "multiclass" and len(present) < 2:  # nothing to calibrate against, no ROC AUC
        raise BadInputError(
            f"y_true holds {len(present)} class(es) in the reference: estimating needs rows of at least 2",
            details="y_true",
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
        est, parts = classification_chunks(reference, current, classes, columns, y_true, y_pred, chunks)
    else:
        est, parts = regression_chunks(reference, current, task, features, y_true, y_pred, chunks)
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
