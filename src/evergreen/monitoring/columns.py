"""Turning stored rows into the frames the drift tests compare (pure; no I/O).

Reference rows come from Parquet snapshots with real dtypes, current rows from JSON in the
prediction log, where ``7`` may come back as ``7.0`` or ``"7"``. Both sides therefore go through the
same coercion per contract kind, so a test never reports drift that is only a change of type. The
log also holds what ingest would have refused (text in a numeric field, a number outside
``data.ranges``): such values are set aside as missing and counted in the report's notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evergreen.data.checks import outside_range, range_text
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


def in_version_order(names: set[str]) -> list[str]:
    """Model version numbers in order, as the notes name them: "9" before "10"."""
    return sorted(names, key=lambda v: (len(v), v))


@dataclass(frozen=True)
class SetAside:
    """Values of one column of the log that the comparison reads as missing, and what they are."""

    column: str
    rows: NDArray[np.bool_]
    what: str


def set_aside_values(
    records: pd.DataFrame, features: pd.DataFrame, contract: Contract, allow_new_categories: bool
) -> list[SetAside]:
    """The logged values a comparison with the reference cannot use, column by column.

    ``records``: the raw log records as columns; ``features``: the same rows through
    :func:`coerce_features`. A value of a numeric column that is not a finite number (text after a
    client changed the field's type), and a value ingest would refuse (``check_values``: a number
    outside ``data.ranges``, a category the contract does not take): a batch holding one is refused,
    so the reference never does, and a window of them would read as drift when it is invalid data.
    """
    specs = {spec.name: spec for spec in contract.features}
    out: list[SetAside] = []
    for name in features.columns:
        column = features[name]
        if column.dtype != object:
            values = column.to_numpy(dtype=np.float64)
            given = np.array([not is_missing(v) for v in records[name].tolist()], dtype=bool)
            out.append(SetAside(name, given & ~np.isfinite(values), "not finite numbers"))
        spec = specs.get(name)
        if spec is None:
            continue
        if spec.kind == "numeric" and (spec.min is not None or spec.max is not None):
            bad = outside_range(values, spec.min, spec.max)
            why = f"outside the contract's range {range_text(spec.min, spec.max)} (data.ranges)"
            out.append(SetAside(name, bad & np.isfinite(values), why))
        elif key := spec.refused_categories_by(allow_new_categories):
            known = set(spec.categories or ())
            bad = np.array([v is not None and v not in known for v in column.tolist()], dtype=bool)
            out.append(SetAside(name, bad, f"categories the contract does not take ({key})"))
    return [a for a in out if a.rows.any()]


def without(features: pd.DataFrame, set_aside: Sequence[SetAside]) -> pd.DataFrame:
    """``features`` with the set-aside values missing (``features`` itself when there are none)."""
    if not set_aside:
        return features
    out = features.copy()
    for a in set_aside:
        col = out[a.column]
        if col.dtype == object:  # missing is None in a text column, as coerce_features has it
            kept = [None if bad else v for v, bad in zip(col.tolist(), a.rows.tolist(), strict=True)]
            out[a.column] = pd.Series(kept, index=col.index, dtype=object)
        else:
            out[a.column] = col.mask(a.rows)
    return out


def _per_version(mask: NDArray[np.bool_], served: NDArray[Any]) -> str:
    by = [f"v{v}: {int(mask[served == v].sum())}" for v in in_version_order(set(served[mask].tolist()))]
    return f" ({', '.join(by)})"


def log_notes(
    records: pd.DataFrame, features: pd.DataFrame, versions: Sequence[Any], set_aside: Sequence[SetAside] = ()
) -> list[str]:
    """What the report says about the logged records: how many values of each column were set
    aside (:func:`set_aside_values`) and why, and the columns the rows of one version never carry
    (its input schema lacks them), which are compared on the other versions' rows only.

    ``versions``: the model version that served each row. Counts, never values: a record may hold
    personal data.
    """
    served = np.array([str(v) for v in versions], dtype=object)
    several = len(set(served.tolist())) > 1
    notes: list[str] = []
    for name in features.columns:
        for a in set_aside:
            if a.column == name:
                where = _per_version(a.rows, served) if several else ""
                count = f"{int(a.rows.sum())} of {len(a.rows)}"
                notes.append(f"{name}: {count} values are {a.what}{where}, read as missing")
        if not several:  # one version: no version can lack a column the others carry
            continue
        given = np.array([not is_missing(v) for v in records[name].tolist()], dtype=bool)
        read = given if features[name].dtype == object else np.isfinite(features[name].to_numpy())
        if read.any():
            # Values given but set aside are counted above; here, the versions that sent none.
            empty = [v for v in in_version_order(set(served.tolist())) if not given[served == v].any()]
            if empty:
                rows = ", ".join(f"v{v} ({int((served == v).sum())} rows)" for v in empty)
                notes.append(
                    f"{name}: no values in the rows served by {rows}: its drift rests on the other "
                    "versions' rows only"
                )
    return notes


def unseen_notes(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], versions: Sequence[Any]
) -> list[str]:
    """Per categorical column, how many current values are categories the reference never had.

    A change of coding after a swap (1/2/3 where the reference has basic/standard/premium), or an id
    sent in a category field, drifts the column on every row: the count says why.
    """
    served = np.array([str(v) for v in versions], dtype=object)
    several = len(set(served.tolist())) > 1
    notes = []
    for name, kind in kinds.items():
        if kind != "categorical" or name not in current.columns or name not in reference.columns:
            continue
        known = set(reference[name].dropna().tolist())
        values = current[name].tolist()
        new = np.array([v is not None and v not in known for v in values], dtype=bool)
        if new.any():
            where = _per_version(new, served) if several else ""
            given = sum(v is not None for v in values)
            notes.append(
                f"{name}: {int(new.sum())} of {given} values are categories the reference never had{where}"
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
