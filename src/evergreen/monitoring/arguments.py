"""Checks of what a caller hands the project-less monitoring API (``data_drift``,
``multivariate_drift``, ``estimate_performance``).

Each bad input becomes one :class:`~evergreen.errors.BadInputError` that names the argument or the
column, raised before any statistic runs. Without them the same inputs gave a pandas, numpy or
LightGBM error from deep inside, or worse, a number: a column read as numbers in the reference and
as text in the window was compared as text and called "no drift".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any, Literal

import numpy as np
import pandas as pd

from evergreen.errors import BadInputError, shown

Family = Literal["numbers", "text", "dates"]


def check_frames(reference: object, current: object) -> None:
    """Both sides are DataFrames without duplicate column names (a duplicate makes ``frame[name]``
    a frame, and every test after it reads the wrong thing)."""
    for side, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise BadInputError(
                f"the {side} data must be a pandas DataFrame, not {type(frame).__name__}", details=side
            )
        duplicated = frame.columns[frame.columns.duplicated()].unique().tolist()
        if duplicated:
            raise BadInputError(
                f"the {side} data has duplicate column names {shown(duplicated)}", details=side
            )


def require_columns(frame: pd.DataFrame, names: Iterable[Any], side: str, argument: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise BadInputError(
            f"the {side} data lacks the {argument} column(s) {shown(missing)}", details=argument
        )


def _value_family(value: object) -> Family | None:
    if isinstance(value, str | bytes):
        return "text"
    if isinstance(value, bool | np.bool_):
        return None  # a flag compares with 0/1 and with "True"/"False" alike: no verdict
    if isinstance(value, Real):
        return "numbers"
    if isinstance(value, dt.date | np.datetime64):
        return "dates"
    return None


def value_family(series: pd.Series) -> Family | None:
    """What a column holds, as far as comparing two sides goes: numbers, text or dates; ``None``
    when it cannot say (flags, empty, mixed). Object columns are judged by their first and last
    present value, as :func:`~evergreen.monitoring.drift.infer_kind` judges them (no full scan)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return value_family(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype) or series.first_valid_index() is None:
        return None  # a flag compares with 0/1 and text alike; an empty column holds nothing
    if pd.api.types.is_numeric_dtype(dtype):
        return "numbers"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "dates"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "text"
    first, last = series.first_valid_index(), series.last_valid_index()
    if first is None:
        return None
    a, b = _value_family(series.loc[first]), _value_family(series.loc[last])
    return a if a == b else None


def check_same_family(
    name: Any, reference: pd.Series, current: pd.Series, *, only: frozenset[Family] | None = None
) -> None:
    """The column holds the same sort of values on both sides (else the test compares apples with
    strings: a float column against its text was "no drift", the same values rounded to text were
    "drift"). ``only``: complain only when both sorts are among these."""
    a, b = value_family(reference), value_family(current)
    if a is not None and b is not None and a != b and (only is None or {a, b} <= only):
        raise BadInputError(
            f"column {shown(name)} holds {a} in the reference data ({reference.dtype}) but {b} in "
            f"the current data ({current.dtype}): convert one side",
            details=name,
        )


def check_whole_number(value: object, argument: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise BadInputError(f"{argument} must be a whole number, not {shown(value)}", details=argument)
    if value < minimum:
        raise BadInputError(f"{argument} must be at least {minimum}, not {value}", details=argument)
    return int(value)


def check_number(
    value: object,
    argument: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> float:
    """A finite real number within the bounds given (``above``: strictly)."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        x = float(value)  # type: ignore[arg-type]
        ok = (
            (above is None or x > above)
            and (at_least is None or x >= at_least)
            and (at_most is None or x <= at_most)
        )
    if not ok:
        bounds = [
            f"above {above}" if above is not None else "",
            f"at least {at_least}" if at_least is not None else "",
            f"at most {at_most}" if at_most is not None else "",
        ]
        wanted = " and ".join(b for b in bounds if b) or "finite"
        raise BadInputError(f"{argument} must be a number {wanted}, not {shown(value)}", details=argument)
    return float(value)  # type: ignore[arg-type]


def check_column_options(
    current: pd.DataFrame, kinds_allowed: Iterable[str], **options: Mapping[Any, Any]
) -> None:
    """Per-column options (``kinds=``, ``methods=``, ``thresholds=``) name columns of ``current``,
    and every kind given is one the function knows."""
    allowed = list(kinds_allowed)
    for argument, mapping in options.items():
        if not isinstance(mapping, Mapping):
            raise BadInputError(
                f"{argument} must map column names to values, not {type(mapping).__name__}",
                details=argument,
            )
        for name, value in mapping.items():
            if name not in current.columns:
                raise BadInputError(
                    f"{argument}: column {shown(name)} is not in the current data", details=argument
                )
            if argument == "kinds" and value not in allowed:
                raise BadInputError(
                    f"unknown kind {shown(value)} for column {shown(name)}: use one of {', '.join(allowed)}",
                    details=argument,
                )
