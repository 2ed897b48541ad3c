"""The current side of a comparison: a window of the prediction log, or an ingested batch scored
by the champion, as the frames and arrays :func:`evergreen.monitoring.job.analyse` compares.

Logged records go through the reference's coercion; values a comparison cannot use are set aside as
missing and counted in the notes (:func:`evergreen.monitoring.columns.set_aside_values`), as are the
labels the task cannot read. Counts only, never values: a record may hold personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evergreen.config import Settings
from evergreen.data.scrub import scrub_text
from evergreen.data.values import is_missing
from evergreen.errors import BadInputError
from evergreen.monitoring.columns import (
    SetAside,
    align_labels,
    coerce_features,
    in_version_order,
    log_notes,
    probability_matrix,
    set_aside_values,
    unseen_notes,
    without,
)
from evergreen.monitoring.reference import Reference
from evergreen.monitoring.windows import records_frame


@dataclass
class Current:
    features: pd.DataFrame  # coerced contract features of every current row
    predicted: np.ndarray | None = None  # outputs of the reference model version; None: unknown
    proba: np.ndarray | None = None
    labels: np.ndarray | None = None  # None where no ground truth arrived yet
    notes: list[str] = field(default_factory=list)
    scored_features: pd.DataFrame | None = None  # features of the rows ``predicted`` describes
    set_aside: list[SetAside] = field(default_factory=list)  # values read as missing (notes say why)


def _targets(task: str, values: list[Any], classes: list[Any] | None) -> np.ndarray:
    """Labels or predictions as the model's classes (classification) or floats; None if unknown."""
    if task != "regression":
        return align_labels(values, classes or [])
    out = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(np.float64).to_numpy()
    # An infinite label or prediction (SQLite's JSON keeps Infinity): sklearn's metrics refuse it.
    return np.array([float(v) if np.isfinite(v) else None for v in out], dtype=object)


def _classes(ref: Reference, task: str) -> list[Any] | None:
    return ref.classes or (list(ref.contract.target_classes or []) if task != "regression" else None)


def _label_classes(ref: Reference, task: str) -> list[Any] | None:
    """What a label may be: the model's classes, and the contract's classes it never learned (a
    class its training window lacked). Such a label is a wrong prediction, not a missing label:
    dropping it left out exactly the rows the model cannot get right."""
    classes = _classes(ref, task)
    if classes is None:
        return None
    # The model's own class objects win when both spell the same class.
    return [*(ref.contract.target_classes or []), *classes]


def current_from_log(ref: Reference, settings: Settings, rows: pd.DataFrame) -> Current:
    records = records_frame(rows["record"].tolist())
    for name in settings.data.pii.scrub_text:
        # The reference went through ingestion's scrubbing; the log may hold raw text. Scrubbing is
        # idempotent, so text already scrubbed by the serving side is left as it is.
        if name in records.columns:
            records[name] = [scrub_text(v) if isinstance(v, str) else v for v in records[name].tolist()]
    features = coerce_features(records, ref.kinds)
    aside = set_aside_values(records, features, ref.contract, settings.data.allow_new_categories)
    cur = Current(without(features, aside))
    versions = rows["model_version"].tolist()
    cur.notes.extend(log_notes(records, features, versions, aside))
    cur.notes.extend(unseen_notes(ref.features, cur.features, ref.kinds, versions))
    cur.set_aside = aside
    task = settings.task
    mask = (rows["model_version"].astype(str) == ref.model_version).to_numpy()
    served = rows[mask]
    if len(served) < len(rows):
        others = in_version_order(set(rows["model_version"].astype(str)) - {ref.model_version})
        cur.notes.append(
            f"{len(rows) - len(served)} rows served by other versions ({', '.join(others)}) "
            "count for input drift only"
        )
    if served.empty:
        return cur
    cur.scored_features = cur.features[mask].reset_index(drop=True)
    classes = _classes(ref, task)
    cur.predicted = _targets(task, served["prediction"].tolist(), classes)
    if ref.classes is not None:
        cur.proba = probability_matrix(served["probabilities"].tolist(), ref.classes)
    raw = served["label"].tolist()
    cur.labels = _targets(task, raw, _label_classes(ref, task))
    given = sum(not is_missing(v) for v in raw)
    if (unread := given - sum(v is not None for v in cur.labels.tolist())) > 0:
        kind = "finite numbers" if task == "regression" else "classes of the model or its contract"
        cur.notes.append(f"{unread} of {given} labels are not {kind}: left out of the realised metrics")
    return cur


def current_from_batch(ref: Reference, settings: Settings, batch: pd.DataFrame) -> Current:
    missing = [c for c in ref.contract.feature_names if c not in batch.columns]
    if missing:
        raise BadInputError(f"the batch lacks the champion's feature columns {missing}")
    cur = Current(coerce_features(batch, ref.kinds))
    cur.scored_features = cur.features
    pred, cur.proba = ref.score(batch)
    # As for the log: a classifier without probabilities has no ``ref.classes``; its labels and
    # predictions are still the contract's classes (they were all None, so nothing was measured).
    classes = _classes(ref, settings.task)
    cur.predicted = _targets(settings.task, pred.tolist(), classes)
    target = settings.data.target
    cur.labels = _targets(
        settings.task,
        batch[target].tolist() if target in batch.columns else [None] * len(batch),
        _label_classes(ref, settings.task),
    )
    return cur
