"""Canonical string forms of cell values.

The same logical value arrives in different physical types depending on the file format and on
whether the column had a null: CSV gives ``7`` (int64) or ``7.0`` (float64 once a NaN appears),
JSONL may give ``"7"``. Categories, identifiers and hashed PII must not depend on that accident, so
every place that turns a value into text goes through :func:`canonical_str`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (but not for the string "nan")."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def canonical_str(value: Any) -> str:
    """``7``, ``7.0`` and ``"7"`` all become ``"7"``; booleans become ``"True"``/``"False"``."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def to_canonical_strings(series: pd.Series) -> pd.Series:
    """Convert every non-null value to its canonical string; nulls become ``None`` (object dtype)."""
    return pd.Series(
        [None if is_missing(v) else canonical_str(v) for v in series.tolist()],
        index=series.index,
        dtype=object,
        name=series.name,
    )


def to_json_value(value: Any) -> Any:
    """A plain Python scalar that ``json.dumps`` accepts (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
