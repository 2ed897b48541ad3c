"""Turning stored rows into the frames the drift tests compare (pure; no I/O).

Reference rows come from Parquet snapshots with real dtypes, current rows from JSON in the
prediction log, where ``7`` may come back as ``7.0`` or ``"7"``. Both sides therefore go through the
same coercion per contract kind, so a test never reports drift that is only a change of type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evergreen.data.contract import Contract
from evergreen.data.values import canonical_str, is_missing, to_canonical_strings
from evergreen.monitoring.drift import Kind

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
SUM_TOLERANCE = 1e-3  # float32 models and rounded logs sum to 1 only roughly


def contract_kinds(contract: Contract) -> dict[str, Kind]:
    return {f.name: f.kind for f in contract.features}


def coerce_features(frame: pd.DataFrame, kinds: Mapping[str, Kind]) -> pd.DataFrame:
    """The contract's feature columns present in ``frame``, numeric as float64, the rest as strings."""
    out: dict[str, pd.Series] = {}
    for name, kind in kinds.items():
        if name not in frame.columns:
            continue
        col = frame[name]
        if kind == "numeric":
            out[name] = pd.to_numeric(col, errors="coerce").astype(np.float64)
        elif kind == "categorical":
            out[name] = to_canonical_strings(col)
        else:
            out[name] = pd.Series(
                [None if is_missing(v) else str(v) for v in col.tolist()],
                index=col.index,
                dtype=object,
                name=name,
            )
    return pd.DataFrame(out, index=frame.index)


def _versions(names: set[str]) -> list[str]:
    return sorted(names, key=lambda v: (len(v), v))  # "9" before "10"


def log_notes(records: pd.DataFrame, features: pd.DataFrame, versions: Sequence[Any]) -> list[str]:
    """What the logged records hold that the comparison cannot use, for the report to say.

    ``records``: the raw log records as columns; ``features``: the same rows through
    :func:`coerce_features`; ``versions``: the model version that served each row. A value of a
    numeric column that is not a finite number (text after a client changed the field's type) is read
    as missing; a column the rows of one version never carry (its input schema lacks it) is compared
    on the other versions' rows only. Counts, never values: a record may hold personal data.
    """
    served = np.array([str(v) for v in versions], dtype=object)
    several = len(set(served.tolist())) > 1
    notes: list[str] = []
    for name in features.columns:
        given = np.array([not is_missing(v) for v in records[name].tolist()], dtype=bool)
        read = given if features[name].dtype == object else np.isfinite(features[name].to_numpy())
        bad = given & ~read
        if bad.any():
            where = ""
            if several:
                by = [f"v{v}: {int(bad[served == v].sum())}" for v in _versions(set(served[bad].tolist()))]
                where = f" ({', '.join(by)})"
            notes.append(
                f"{name}: {int(bad.sum())} of {len(bad)} values are not finite numbers{where}, "
                "read as missing"
            )
        if several and read.any():
            # Values given but unreadable are counted above; here, the versions that sent none.
            empty = [v for v in _versions(set(served.tolist())) if not given[served == v].any()]
            if empty:
                rows = ", ".join(f"v{v} ({int((served == v).sum())} rows)" for v in empty)
                notes.append(
                    f"{name}: no values in the rows served by {rows}: its drift rests on the other "
                    "versions' rows only"
                )
    return notes


def usable_columns(
    reference: pd.DataFrame, current: pd.DataFrame, min_values: int = 1
) -> tuple[list[str], dict[str, str]]:
    """Columns both sides can be tested on, and why each of the others is skipped.

    ``min_values``: the values a column needs in the current data (``monitoring.min_rows``). A
    window can have enough rows while a sparse column has a handful of values, and a distance on
    six values calls drift nearly every time (37 of 40 same-distribution draws did).
    """
    keep: list[str] = []
    skipped: dict[str, str] = {}
    for name in reference.columns:
        if name not in current.columns:
            skipped[name] = "not in the current data"
        elif _count(reference[name]) == 0:
            skipped[name] = "no values in the reference data"
        elif (n := _count(current[name])) == 0:
            skipped[name] = "no values in the current data"
        elif n < min_values:
            skipped[name] = f"only {n} values in the current data, fewer than min_rows {min_values}"
        else:
            keep.append(str(name))
    return keep, skipped


def _count(series: pd.Series) -> int:
    if pd.api.types.is_float_dtype(series.dtype):
        return int(np.isfinite(series.to_numpy()).sum())
    return int(series.count())


def align_labels(values: Sequence[Any], classes: Sequence[Any]) -> NDArray[Any]:
    """Map JSON labels onto the model's classes by canonical string; unknown or missing → None."""
    by_key = {canonical_str(c): c for c in classes}
    return np.array([None if is_missing(v) else by_key.get(canonical_str(v)) for v in values], dtype=object)


def probability_matrix(values: Sequence[Any], classes: Sequence[Any]) -> NDArray[np.float64]:
    """(rows, classes) from JSON probabilities given as ``{class: p}`` or a list in class order.

    A row without usable probabilities is all NaN, so callers can drop it with one mask. Usable means
    numbers in [0, 1] that sum to 1: anything else (a null, text, NaN, infinity, 1.7, a row summing to
    0.6) would be ranked by the AUC or spread over the expected confusion matrix as if it were one.
    """
    keys = [canonical_str(c) for c in classes]
    out = np.full((len(values), len(classes)), np.nan)
    for i, v in enumerate(values):
        row: list[Any] | None = None
        if isinstance(v, Mapping):
            by_key = {canonical_str(k): p for k, p in v.items()}
            if all(k in by_key for k in keys):
                row = [by_key[k] for k in keys]
        elif isinstance(v, Sequence) and not isinstance(v, str) and len(v) == len(classes):
            row = list(v)
        if row is not None and _is_distribution(row):
            out[i] = row
    return out


def _is_distribution(row: list[Any]) -> bool:
    if not all(isinstance(p, int | float | np.number) and not isinstance(p, bool) for p in row):
        return False
    p = np.asarray(row, dtype=np.float64)
    return bool(
        np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all() and abs(p.sum() - 1.0) <= SUM_TOLERANCE
    )


def prediction_frame(
    task: str, predicted: Sequence[Any], proba: NDArray[np.float64] | None, classes: Sequence[Any] | None
) -> tuple[pd.DataFrame, dict[str, Kind]]:
    """The columns prediction drift is measured on, with their kinds.

    Classification: the predicted class (categorical) and the probability of each class (numeric);
    binary keeps only the positive class's probability, the other being its complement.
    Regression: the predicted value (numeric).
    """
    if task == "regression":
        values = pd.to_numeric(pd.Series(list(predicted), dtype=object), errors="coerce").astype(np.float64)
        return pd.DataFrame({PREDICTION: values}), {PREDICTION: "numeric"}
    frame = pd.DataFrame({PREDICTION: to_canonical_strings(pd.Series(list(predicted), dtype=object))})
    kinds: dict[str, Kind] = {PREDICTION: "categorical"}
    if proba is not None and classes is not None:
        shown = list(enumerate(classes))[1:] if len(classes) == 2 else list(enumerate(classes))
        for k, c in shown:
            name = PROBA_PREFIX + canonical_str(c)
            frame[name] = proba[:, k]
            kinds[name] = "numeric"
    return frame, kinds
