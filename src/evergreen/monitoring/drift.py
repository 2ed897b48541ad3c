"""Column and dataset drift between two DataFrames, with Evidently 0.7's default choices.

``data_drift`` needs no project: give it a reference and a current frame. Kinds are inferred from
the current frame the way Evidently's ``infer_column_type`` does, the test per column follows
Evidently's ``_get_default_stattest``, and the dataset verdict is its ``share >= drift_share``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evergreen.errors import BadInputError, shown
from evergreen.monitoring import stattests as st
from evergreen.monitoring.arguments import check_column_options, check_frames, check_number, check_same_family
from evergreen.monitoring.columntests import (
    DOMAIN_CLASSIFIER,
    INTEGER_CARDINALITY_LIMIT,
    KINDS,
    ColumnDrift,
    Kind,
    auto_method,
    numeric_test,
)
from evergreen.monitoring.stattests import FloatArray, IntArray, TestResult

INSUFFICIENT = "insufficient_data"


@dataclass(frozen=True)
class DriftReport:
    columns: tuple[ColumnDrift, ...]
    drift_share: float = 0.5
    # Columns left untested because the window has fewer rows than ``monitoring.min_rows``
    # (name -> kind): such a report has no verdict at all, neither per column nor for the dataset.
    untested: tuple[tuple[str, Kind], ...] = ()
    by_name: dict[str, ColumnDrift] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.column: c for c in self.columns})

    def __getitem__(self, column: str) -> ColumnDrift:
        return self.by_name[column]

    @property
    def insufficient(self) -> bool:
        return bool(self.untested)

    @property
    def number_of_columns(self) -> int:
        return len(self.untested) if self.insufficient else len(self.columns)

    @property
    def number_of_drifted_columns(self) -> int | None:
        return None if self.insufficient else sum(c.drifted for c in self.columns)

    @property
    def share(self) -> float | None:
        # No column tested (every one empty in the window, say): no evidence either way, so no
        # verdict, rather than a share of 0.0 that reads as "ok" and clears a drift alert.
        if self.insufficient or not self.columns:
            return None
        return sum(c.drifted for c in self.columns) / len(self.columns)

    @property
    def score(self) -> float | None:
        """Share of drifted columns; stored as ``data_drift_score`` (NULL without a verdict)."""
        return self.share

    @property
    def dataset_drift(self) -> bool | None:
        share = self.share
        return None if share is None else share >= self.drift_share

    def to_dict(self) -> dict[str, Any]:
        columns = {c.column: {**c.to_dict(), "status": "drift" if c.drifted else "ok"} for c in self.columns}
        for name, kind in self.untested:
            columns[name] = {"kind": kind, "status": INSUFFICIENT, "drifted": None}
        dataset = self.dataset_drift
        return {
            "status": INSUFFICIENT if dataset is None else ("drift" if dataset else "ok"),
            "columns": columns,
            "number_of_columns": self.number_of_columns,
            "number_of_drifted_columns": self.number_of_drifted_columns,
            "share": self.share,
            "drift_share": self.drift_share,
            "dataset_drift": dataset,
        }


# --- kinds --------------------------------------------------------------------------------------


def infer_kind(series: pd.Series) -> Kind | None:
    """Evidently 0.7's ``infer_column_type``; ``None`` for what it calls Unknown, Datetime or List."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if pd.api.types.is_integer_dtype(dtype):
        return "categorical" if series.nunique() <= INTEGER_CARDINALITY_LIMIT else "numeric"
    is_text = pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)
    if pd.api.types.is_object_dtype(dtype):
        present = series.dropna()
        # Evidently looks at the first and last non-null value only; so do we.
        is_text = len(present) > 0 and isinstance(present.iloc[0], str) and isinstance(present.iloc[-1], str)
    if is_text:
        return "text" if series.nunique() > series.count() * 0.5 else "categorical"
    return None


# --- preparing a column -------------------------------------------------------------------------


def finite_values(series: pd.Series, column: str, side: str) -> FloatArray:
    """The column as float64 without NaN and +-inf; no copy when there is nothing to drop."""
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"column '{column}' in the {side} data is not numeric", details=column) from exc
    keep = np.isfinite(values)
    if not keep.all():
        values = values[keep]
    if values.size == 0:
        raise BadInputError(f"column '{column}' is empty in the {side} data after dropping NaN/inf")
    return values


def _is_inf(key: Any) -> bool:
    return isinstance(key, float | np.floating) and math.isinf(key)


def category_counts(
    reference: pd.Series, current: pd.Series, column: str = ""
) -> tuple[list[Any], IntArray, IntArray]:
    """Counts per category on both sides, aligned on the sorted union of the values seen.

    pandas' hash-based value_counts avoids sorting a million strings; unused levels of a category
    dtype and NaN/inf keys are dropped, as Evidently's ``unique()``-based keys do.
    """
    sides = []
    for side, series in (("reference", reference), ("current", current)):
        counts = series.value_counts(dropna=True, sort=False)
        counts = counts[counts > 0]
        counts = counts[[not _is_inf(k) for k in counts.index]]
        if counts.empty:
            raise BadInputError(f"column '{column}' is empty in the {side} data after dropping NaN/inf")
        sides.append(dict(zip(counts.index.tolist(), counts.to_numpy(dtype=np.int64).tolist(), strict=True)))
    keys = list(sides[0].keys() | sides[1].keys())
    try:
        keys.sort()
    except TypeError:  # mixed types: any fixed order will do except for the z-test's "first" key
        keys.sort(key=repr)
    ref = np.array([sides[0].get(k, 0) for k in keys], dtype=np.int64)
    cur = np.array([sides[1].get(k, 0) for k in keys], dtype=np.int64)
    return keys, ref, cur


def _sorted_distinct(sorted_values: FloatArray) -> int:
    return int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1])) + 1


def _union_distinct(ref_sorted: FloatArray, cur_sorted: FloatArray, cap: int) -> int:
    """Number of distinct values over both sorted samples, exact up to ``cap`` (then cap + 1)."""
    if _sorted_distinct(ref_sorted) > cap or _sorted_distinct(cur_sorted) > cap:
        return cap + 1
    return int(np.union1d(ref_sorted, cur_sorted).size)


# --- one column ---------------------------------------------------------------------------------


def _numeric_drift(
    column: str, reference: pd.Series, current: pd.Series, method: str | None
) -> tuple[str, TestResult]:
    ref = finite_values(reference, column, "reference")
    cur = finite_values(current, column, "current")
    integer = all(pd.api.types.is_integer_dtype(s.dtype) for s in (reference, current))
    if method is not None:
        return method, numeric_test(method, ref, cur, integer)
    ref_sorted, cur_sorted = np.sort(ref), np.sort(cur)
    method = auto_method("numeric", ref.size, _union_distinct(ref_sorted, cur_sorted, cap=5))
    if method == "wasserstein":
        # Sorted once for the unique count; reuse it (std is order-free up to rounding).
        norm = max(float(np.std(ref)), 0.001)
        distance = st.wasserstein_1d(ref_sorted, cur_sorted, presorted=True) / norm
        return method, TestResult(distance, None)
    return method, numeric_test(method, ref, cur)


def _categorical_drift(
    column: str, reference: pd.Series, current: pd.Series, method: str | None
) -> tuple[str, TestResult]:
    if method in st.SAMPLE_TESTS:
        raise BadInputError(f"method '{method}' needs a numeric column, '{column}' is categorical")
    _, ref_counts, cur_counts = category_counts(reference, current, column)
    if method is None:
        method = auto_method("categorical", int(ref_counts.sum()), ref_counts.size)
    try:
        return method, st.FREQUENCY_TESTS[method](ref_counts, cur_counts)
    except ValueError as exc:  # a test the column does not suit (the z-test on three categories)
        raise BadInputError(f"column {shown(column)}, method '{method}': {exc}", details=column) from None


def column_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    kind: Kind,
    method: str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Drift of one column; ``method=None`` picks Evidently's default for the column."""
    if (
        method is not None
        and method not in st.METHODS
        and not (kind == "text" and method == DOMAIN_CLASSIFIER)
    ):
        raise BadInputError(
            f"unknown drift method '{method}' for column '{column}'", details=sorted(st.METHODS)
        )
    if kind == "text":
        from evergreen.monitoring.text import text_drift  # sklearn is only imported for text columns

        return text_drift(column, reference, current, threshold=threshold)
    if kind == "numeric":
        method, result = _numeric_drift(column, reference, current, method)
    else:
        method, result = _categorical_drift(column, reference, current, method)
    threshold = st.DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    return ColumnDrift(
        column,
        kind,
        method,
        result.statistic,
        result.p_value,
        threshold,
        st.is_drift(method, result.score, threshold),
    )


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: Mapping[str, Kind] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
) -> DriftReport:
    """Drift of every numeric, categorical and text column of ``current`` against ``reference``.

    ``kinds`` fixes the kind of some columns (the rest are inferred from ``current``; columns of no
    kind, such as datetimes, are skipped). ``methods`` and ``thresholds`` override, per column, the
    automatic test and its default threshold.
    """
    check_frames(reference, current)
    check_column_options(
        current, KINDS, kinds=kinds or {}, methods=methods or {}, thresholds=thresholds or {}
    )
    given_kinds: dict[str, Kind] = dict(kinds or {})
    given_methods: dict[str, str] = dict(methods or {})
    given_thresholds: dict[str, float] = dict(thresholds or {})
    for name, value in given_thresholds.items():
        check_number(value, f"thresholds[{name!r}]", at_least=0.0)
    drift_share = check_number(drift_share, "drift_share", above=0.0, at_most=1.0)
    results = []
    for name in current.columns:
        kind = given_kinds.get(name) or infer_kind(current[name])
        if kind is None:
            continue
        if name not in reference.columns:
            raise BadInputError(f"column {shown(name)} is not in the reference data", details=name)
        if name not in given_kinds:  # a kind given says how to read both sides; an inferred one may not
            check_same_family(name, reference[name], current[name])
        results.append(
            column_drift(
                name,
                reference[name],
                current[name],
                kind,
                given_methods.get(name),
                given_thresholds.get(name),
            )
        )
    return DriftReport(tuple(results), drift_share)
