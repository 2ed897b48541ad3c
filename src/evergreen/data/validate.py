"""Validate one batch against the contract and produce the frame that becomes its snapshot.

The first problem found is raised as a :class:`DataValidationError` (the batch is quarantined as a
whole: a half-accepted file is harder to reason about than a rejected one). Checks run in a fixed
order - rows, columns present, target, each feature in contract order, duplicates - so the same bad
file always gives the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from evergreen.config import Settings
from evergreen.data import checks
from evergreen.data.checks import column_error
from evergreen.data.target import empty_target, learn_classes, normalise_target

if TYPE_CHECKING:  # contract.py re-exports this module, so import it for types only
    from evergreen.data.contract import ColumnSpec, Contract


@dataclass(frozen=True)
class ValidationResult:
    frame: pd.DataFrame  # snapshot columns in contract order
    contract: Contract  # the input contract, plus target classes if this batch taught them
    labelled_rows: int
    dropped_columns: tuple[str, ...] = ()
    new_categories: dict[str, list[str]] = field(default_factory=dict)
    duplicates_dropped: int = 0

    @property
    def notes(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.dropped_columns:
            dropped = ", ".join(checks.scrubbed(c) for c in self.dropped_columns)
            out.append(f"dropped columns not in the contract: {dropped}")
        for col, cats in self.new_categories.items():
            out.append(f"column '{col}': {len(cats)} new categories accepted: {checks.examples(cats)}")
        if self.duplicates_dropped:
            out.append(f"dropped {self.duplicates_dropped} duplicate rows")
        return tuple(out)


def check_values(
    series: pd.Series, spec: ColumnSpec, settings: Settings, file: str
) -> tuple[pd.Series, list[str]]:
    """One feature column in its snapshot type, plus any new categories that were accepted: the checks
    each value passes or fails on its own (its type, a finite number, ``data.ranges``, a category the
    contract takes). A failure is the fault of the rows holding those values, unlike the column's
    null checks (:func:`check_batch`), which judge the rows together."""
    name = spec.name
    if spec.kind == "numeric":
        values = checks.to_numeric(series, name, file)
        checks.check_finite(values, name, file)
        if spec.min is not None or spec.max is not None:
            checks.check_range(values, name, spec.min, spec.max, file)
        return values, []
    values = checks.to_strings(series, name, file, expected=spec.kind)
    unseen: list[str] = []
    if spec.kind == "categorical" and spec.categories is not None:
        unseen = checks.new_categories(values, spec.categories)
        if unseen and spec.refused_categories_by(settings.data.allow_new_categories):
            raise checks.reject_categories(name, unseen, file)
    return values, unseen


def _feature(
    series: pd.Series, spec: ColumnSpec, settings: Settings, file: str
) -> tuple[pd.Series, list[str]]:
    """One feature column in its snapshot type, plus any new categories that were accepted."""
    checks.check_not_all_null(series, spec.name, file)
    values, unseen = check_values(series, spec, settings, file)
    checks.check_null_rate(values, spec.name, spec.max_null_rate, file)
    return values, unseen


def _target(
    df: pd.DataFrame, contract: Contract, settings: Settings, file: str
) -> tuple[pd.Series, Contract]:
    name = contract.target
    if name not in df.columns or bool(df[name].isna().all()):
        # No labels at all: still a useful batch for input monitoring (labelled_rows = 0).
        return empty_target(len(df), contract.target_classes, contract.task).set_axis(df.index), contract
    if contract.task != "regression" and contract.target_classes is None:
        contract = contract.with_target_classes(learn_classes(df[name], contract.task, name, file))
    return check_target_values(df[name], contract, settings, file), contract


def check_target_values(series: pd.Series, contract: Contract, settings: Settings, file: str) -> pd.Series:
    """The labels in their snapshot type, each passing or failing on its own (a class of the
    contract; a finite number inside ``data.ranges``), once the classes are known."""
    name = contract.target
    target = normalise_target(series, contract.task, contract.target_classes, name, file)
    if contract.task == "regression":
        checks.check_finite(target, name, file)
        low, high = settings.data.ranges.get(name, (None, None))
        if low is not None or high is not None:
            checks.check_range(target, name, low, high, file)
    return target.rename(name)


def check_batch(df: pd.DataFrame, contract: Contract, settings: Settings, file: str) -> ValidationResult:
    """Validate ``df`` (already PII-processed) and build its snapshot frame."""
    if len(df) == 0:
        raise column_error(file, None, "empty_file", "no rows to ingest")
    required = [c for c in contract.columns if c != contract.target]
    missing = [c for c in required if c not in df.columns]
    if missing:
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:6])})" if len(missing) > 1 else ""
        raise column_error(
            file,
            missing[0],
            "missing_column",
            f"missing column required by the contract{more}",
            missing=missing,
        )
    target, contract = _target(df, contract, settings, file)
    out: dict[str, pd.Series] = {}
    if contract.id_column:
        out[contract.id_column] = checks.to_strings(df[contract.id_column], contract.id_column, file, "id")
    if contract.timestamp_column:
        ts_name = contract.timestamp_column
        checks.check_not_all_null(df[ts_name], ts_name, file)
        out[ts_name] = checks.to_timestamps(df[ts_name], ts_name, file)
        checks.check_null_rate(out[ts_name], ts_name, settings.data.max_null_rate, file)
    new_cats: dict[str, list[str]] = {}
    for spec in contract.features:
        out[spec.name], unseen = _feature(df[spec.name], spec, settings, file)
        if unseen:
            new_cats[spec.name] = unseen
    out[contract.target] = target
    frame = pd.DataFrame(out, index=df.index)[list(contract.columns)].reset_index(drop=True)

    dup_mask = frame.duplicated(keep="first")
    dups = int(dup_mask.sum())
    if dups and settings.data.duplicate_rows == "reject":
        raise column_error(
            file,
            None,
            "duplicate_rows",
            f"{dups} exact duplicate rows within the batch (data.duplicate_rows: reject)",
            count=dups,
        )
    if dups:
        frame = frame[~dup_mask].reset_index(drop=True)
    return ValidationResult(
        frame=frame,
        contract=contract,
        labelled_rows=int(frame[contract.target].notna().sum()),
        dropped_columns=tuple(str(c) for c in df.columns if c not in set(contract.columns)),
        new_categories=new_cats,
        duplicates_dropped=dups,
    )


def validate(df: pd.DataFrame, contract: Contract, settings: Settings, file: str) -> pd.DataFrame:
    """The cleaned snapshot frame, or DataValidationError with a reason code."""
    return check_batch(df, contract, settings, file).frame
