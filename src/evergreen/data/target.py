"""The target column: learning the class set and normalising labels across file formats.

Labels are compared by their canonical string so that ``1`` (CSV int), ``1.0`` (CSV float because a
label was missing) and ``"1"`` (JSON string) are the same class; the stored value keeps the type the
contract learned, so a snapshot's target column has one type across all batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from evergreen.data.checks import column_error, examples, scrubbed, to_numeric
from evergreen.data.values import canonical_str, is_missing, to_json_value
from evergreen.errors import DataValidationError


def sorted_labels(values: Sequence[Any]) -> tuple[Any, ...]:
    plain = list(dict.fromkeys(to_json_value(v) for v in values if not is_missing(v)))
    try:
        return tuple(sorted(plain))
    except TypeError:  # mixed types: order by text so the result is still deterministic
        return tuple(sorted(plain, key=canonical_str))


def learn_classes(series: pd.Series, task: str, column: str, file: str) -> tuple[Any, ...] | None:
    """The class set of a first labelled batch (None for regression or when nothing is labelled)."""
    if task == "regression":
        return None
    classes = sorted_labels(series.dropna().tolist())
    if not classes:
        return None
    if task == "binary" and len(classes) != 2:
        raise column_error(
            file,
            column,
            "bad_target",
            f"bad target: a binary task needs exactly 2 classes, found {len(classes)}: {examples(classes)}",
            classes=[scrubbed(c) for c in classes],
        )
    if task == "multiclass" and len(classes) < 2:
        raise column_error(
            file,
            column,
            "bad_target",
            f"bad target: a multiclass task needs at least 2 classes, found {examples(classes)}",
        )
    return classes


def empty_target(rows: int, classes: Sequence[Any] | None, task: str) -> pd.Series:
    """An all-null target column of the type the labelled batches use (for unlabelled batches)."""
    return pd.Series([None] * rows, dtype=_label_dtype(classes, task))


def _label_dtype(classes: Sequence[Any] | None, task: str) -> str:
    if task == "regression":
        return "float64"
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "Int64"
    if classes and all(isinstance(c, bool) for c in classes):
        return "boolean"
    return "object"


def normalise_target(
    series: pd.Series, task: str, classes: Sequence[Any] | None, column: str, file: str
) -> pd.Series:
    """Return the target in its canonical type; unknown labels are ``unseen_target_label``."""
    if task == "regression":
        try:
            return to_numeric(series, column, file)
        except DataValidationError as exc:  # a text target is a target problem, not a feature type
            found = exc.message.split(": wrong type: ")[-1]
            raise column_error(
                file, column, "bad_target", f"bad target: a regression target must be numeric ({found})"
            ) from None
    if classes is None:  # first labelled batch: classes are learned by the caller from this series
        classes = learn_classes(series, task, column, file) or ()
    by_key = {canonical_str(c): c for c in classes}
    labels = [None if is_missing(v) else by_key.get(canonical_str(v), _Unseen(v)) for v in series.tolist()]
    unseen = [u.value for u in labels if isinstance(u, _Unseen)]
    if unseen:
        unseen_sorted = sorted_labels(unseen)
        raise column_error(
            file,
            column,
            "unseen_target_label",
            f"unseen target label(s) {examples(unseen_sorted)} ({len(unseen)} rows); "
            f"known classes: {examples(classes)}",
            labels=[scrubbed(v) for v in unseen_sorted][:20],
        )
    return pd.Series(labels, index=series.index, dtype=_label_dtype(classes, task), name=column)


class _Unseen:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value
