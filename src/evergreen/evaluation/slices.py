"""Metric per category of a few slice columns, for the "no slice worse by more than X" gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evergreen.evaluation.metrics import compute_metrics, label_key

MISSING = "__missing__"

SliceValues = dict[str, dict[str, dict[str, Any]]]


def slice_key(value: Any) -> str:
    """Category value as the string key used in reports (NaN/None → ``__missing__``)."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return MISSING
    return label_key(value)


def slice_metrics(
    frame: pd.DataFrame,
    slice_columns: Sequence[str],
    y_true: ArrayLike,
    y_pred: ArrayLike,
    task: str,
    metric: str,
    min_rows: int = 30,
    proba: ArrayLike | None = None,
    classes: Sequence[Any] | NDArray[Any] | None = None,
) -> SliceValues:
    """``{column: {category: {"rows": n, "value": metric}}}`` for slices of at least ``min_rows``.

    Rows are matched by position, so ``frame`` must be aligned with ``y_true``. A slice whose
    metric is undefined (e.g. ROC AUC with a single class) is left out, like a too-small one.
    """
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    pr = None if proba is None else np.asarray(proba, dtype=np.float64)
    if len(frame) != len(yt) or len(yp) != len(yt):
        raise ValueError(f"frame ({len(frame)}), y_true ({len(yt)}) and y_pred ({len(yp)}) must align")
    out: SliceValues = {}
    for column in slice_columns:
        if column not in frame.columns:
            raise ValueError(f"slice column {column!r} is not in the frame")
        keys = np.array([slice_key(v) for v in frame[column].tolist()], dtype=object)
        per_value: dict[str, dict[str, Any]] = {}
        for key in sorted(set(keys.tolist())):
            mask = keys == key
            rows = int(mask.sum())
            if rows < min_rows:
                continue
            values = compute_metrics(task, yt[mask], yp[mask], None if pr is None else pr[mask], classes)
            if metric in values:
                per_value[key] = {"rows": rows, "value": values[metric]}
        out[column] = per_value
    return out
