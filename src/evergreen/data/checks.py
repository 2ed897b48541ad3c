"""Column-level checks used by :func:`evergreen.data.contract.validate`.

Each check takes one column and either returns it in its canonical snapshot type or raises a
:class:`DataValidationError` whose one-line message reads
``file.csv: column 'tenure': wrong type: expected numeric, found text values like 'abc'``.
They know nothing about contracts or storage, so they can be tested on a single Series.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evergreen.data.scrub import scrub_text
from evergreen.data.values import canonical_str, to_canonical_strings
from evergreen.errors import DataValidationError

_EXAMPLES = 3


def column_error(file: str, column: str | None, reason: str, text: str, **extra: Any) -> DataValidationError:
    where = f"column '{column}': " if column is not None else ""
    message = " ".join(f"{file}: {where}{text}".split())
    return DataValidationError(message, reason=reason, file=file, column=column, extra=extra or None)


def scrubbed(value: Any) -> str:
    """A value as a message, a sidecar or a batch row quotes it: e-mail addresses and phone numbers
    replaced (the column may not be under ``data.pii``: the value still must not be copied out)."""
    return scrub_text(canonical_str(value))


def examples(values: Iterable[Any]) -> str:
    # The first few distinct values, then scrubbed: scrubbing a million values cost seconds.
    distinct = _unique(canonical_str(v) for v in values)
    return ", ".join(repr(scrub_text(v)[:40]) for v in itertools.islice(distinct, _EXAMPLES))


def _unique(items: Iterable[str]) -> Iterable[str]:
    seen: set[str] = set()
    for item in items:
        if item not in seen:
            seen.add(item)
            yield item


def check_not_all_null(series: pd.Series, column: str, file: str) -> None:
    if len(series) and bool(series.isna().all()):
        raise column_error(file, column, "all_null_column", f"all {len(series)} values are null")


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list | tuple | set | np.ndarray)


def to_numeric(series: pd.Series, column: str, file: str, expected: str = "numeric") -> pd.Series:
    """Float64 column, or wrong_type naming a few offending values. Integers into floats is fine."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        if pd.api.types.is_complex_dtype(series):
            raise column_error(file, column, "wrong_type", f"wrong type: expected {expected}, found complex")
        return series.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        raise column_error(
            file,
            column,
            "wrong_type",
            f"wrong type: expected {expected}, found {series.dtype}",
            expected=expected,
            found=str(series.dtype),
        )
    values = series.astype(object)
    converted = pd.to_numeric(values.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
    _check_parsed(values, converted, column, file, expected, "text values")
    return converted.astype("float64")


def to_strings(series: pd.Series, column: str, file: str, expected: str) -> pd.Series:
    """Canonical strings (nulls stay None); nested JSON values are a wrong type."""
    nested = series[~series.map(_scalar)]
    if len(nested):
        raise column_error(
            file,
            column,
            "wrong_type",
            f"wrong type: expected {expected}, found nested values like {examples(nested)}",
            expected=expected,
            found="nested",
        )
    return to_canonical_strings(series)


# Inside pandas' datetime64[ns] range, in whole epoch seconds (exclusive bounds): at its very edge the
# float nanoseconds wrap to the other end without an error (9223372036.9 s became 1677).
EPOCH_MIN, EPOCH_MAX = pd.Timestamp.min.value // 10**9 + 1, pd.Timestamp.max.value // 10**9


def to_timestamps(series: pd.Series, column: str, file: str) -> pd.Series:
    """UTC datetimes. Numbers are read as Unix epoch seconds."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series, utc=True)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        # An epoch out of range (1e20) is refused like any value that does not parse; it was an
        # OverflowError that stopped the whole ingest, or a silent missing timestamp.
        inside = series.where((series > EPOCH_MIN) & (series < EPOCH_MAX))
        try:
            epochs = pd.to_datetime(inside, unit="s", utc=True, errors="coerce")
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
            epochs = pd.Series([_epoch(v) for v in inside], index=series.index, dtype="datetime64[ns, UTC]")
        _check_parsed(series, epochs, column, file, "timestamp", "epoch seconds out of range")
        return epochs
    parsed = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
    _check_parsed(series, parsed, column, file, "timestamp", "values")
    return parsed


def _epoch(value: Any) -> pd.Timestamp | None:
    try:
        return pd.to_datetime(value, unit="s", utc=True)
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        return None  # NaT in the column: refused by _check_parsed, the value being present


def _check_parsed(
    raw: pd.Series, parsed: pd.Series, column: str, file: str, expected: str, found: str
) -> None:
    """wrong_type when a value that was present did not parse (null in, null out is fine)."""
    bad = raw[parsed.isna() & raw.notna()]
    if len(bad):
        raise column_error(
            file,
            column,
            "wrong_type",
            f"wrong type: expected {expected}, found {found} like {examples(bad)} ({len(bad)} rows)",
            expected=expected,
            found="text",
            bad_rows=len(bad),
        )


def check_finite(series: pd.Series, column: str, file: str) -> None:
    """±inf is never a valid measurement; NaN is handled by the null-rate check."""
    count = int(np.isinf(series.to_numpy(dtype="float64", na_value=np.nan)).sum())
    if count:
        raise column_error(
            file,
            column,
            "non_finite_values",
            f"{count} infinite values (inf/-inf) in a numeric column",
            count=count,
        )


def check_null_rate(series: pd.Series, column: str, limit: float, file: str) -> None:
    rate = float(series.isna().mean()) if len(series) else 0.0
    if rate > limit:
        raise column_error(
            file,
            column,
            "null_rate_exceeded",
            f"null rate {rate:.1%} exceeds the limit of {limit:.1%} (data.max_null_rate)",
            rate=rate,
            limit=limit,
        )


def outside_range(values: pd.Series | np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    """Which values lie outside ``[low, high]`` (None: no bound); a missing value (NaN) is inside,
    for the null checks to judge. Ingest refuses a batch holding one; monitoring sets it aside."""
    v = values.to_numpy(dtype="float64", na_value=np.nan) if isinstance(values, pd.Series) else values
    outside = np.zeros(len(v), dtype=bool)
    if low is not None:
        outside |= v < low
    if high is not None:
        outside |= v > high
    return outside


def range_text(low: float | None, high: float | None) -> str:
    """``[low, high]`` as the messages show it, an open end as -inf or inf."""
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


def check_range(series: pd.Series, column: str, low: float | None, high: float | None, file: str) -> None:
    outside = outside_range(series, low, high)
    count = int(outside.sum())
    if count:
        raise column_error(
            file,
            column,
            "out_of_range",
            f"{count} values outside the allowed range {range_text(low, high)} (data.ranges), "
            f"like {examples(series[outside])}",
            count=count,
            low=low,
            high=high,
        )


def new_categories(series: pd.Series, allowed: Sequence[str]) -> list[str]:
    """Values of a canonical-string column that the contract has not seen, sorted."""
    known = set(allowed)
    return sorted({v for v in series.dropna().tolist() if v not in known})


def reject_categories(column: str, unseen: list[str], file: str) -> DataValidationError:
    return column_error(
        file,
        column,
        "unseen_category",
        f"{len(unseen)} categories not in the contract: {examples(unseen)}",
        categories=[scrubbed(c) for c in unseen[:20]],
    )
