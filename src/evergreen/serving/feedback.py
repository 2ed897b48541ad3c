"""Feedback: ground truth for a logged prediction, or labelled records. Parsing is pure; storage is not.

A label must be one of the champion's classes (classification; compared by canonical string, so
``1``, ``1.0`` and ``"1"`` are the same class) or a finite number (regression).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from evergreen.data.values import canonical_str
from evergreen.errors import (
    InvalidLabelError,
    InvalidRequestError,
    TooManyRecordsError,
    UnknownPredictionError,
)
from evergreen.serving.model import LoadedModel
from evergreen.serving.schema import ExtraFields, validate_records
from evergreen.store.engine import Store, utcnow
from evergreen.store.tables import feedback, predictions


@dataclass(frozen=True)
class FeedbackItem:
    label: Any
    prediction_id: str | None = None
    record: dict[str, Any] | None = None


_MAX_ID = 36


def _finite(value: int | float) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    try:
        return math.isfinite(float(value))
    except OverflowError:  # a 400-digit integer
        return False


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def normalise_label(label: Any, classes: tuple[Any, ...] | None, where: str) -> Any:
    """The label as the model's class value; InvalidLabelError (422) otherwise."""
    if classes is None:
        ok = isinstance(label, int | float) and not isinstance(label, bool) and _finite(label)
        if not ok:
            raise InvalidLabelError(
                f"{where}label must be a finite number for a regression model, got {_shown(label)}",
                details={"field": "label"},
            )
        return label
    if label is None or isinstance(label, dict | list):
        raise InvalidLabelError(
            f"{where}label must be one of {list(classes)}, got {_shown(label)}",
            details={"field": "label", "allowed": list(classes)},
        )
    by_text = {canonical_str(c): c for c in classes}
    key = canonical_str(label)
    if key not in by_text:
        raise InvalidLabelError(
            f"{where}label {_shown(label)} is not a class of the model: {list(classes)}",
            details={"field": "label", "allowed": list(classes)},
        )
    return by_text[key]


def parse_feedback(
    payload: Any, model: LoadedModel, target: str, *, max_items: int, extra: ExtraFields
) -> list[FeedbackItem]:
    """Accepts ``{prediction_id, label}``, ``{"feedback": [...]}``, ``{record, label}`` or
    ``{"records": [...]}`` (each record carrying its label in the target column)."""
    if not isinstance(payload, dict):
        raise InvalidRequestError("feedback must be a JSON object", details={"field": "(body)"})
    if "feedback" in payload:
        items = _list(payload["feedback"], "feedback", max_items)
        return [_by_id(it, model, f"feedback {i}: ") for i, it in enumerate(items)]
    if "prediction_id" in payload:
        return [_by_id(payload, model, "")]
    if "record" in payload:
        if "label" not in payload:
            raise InvalidRequestError("missing field 'label'", details={"field": "label"})
        return _labelled(
            [{**_obj(payload["record"], "record"), target: payload["label"]}],
            model,
            target,
            extra,
            many=False,
        )
    if "records" in payload:
        return _labelled(_list(payload["records"], "records", max_items), model, target, extra, many=True)
    raise InvalidRequestError(
        "expected 'prediction_id' and 'label', 'feedback', 'record' and 'label', or 'records'",
        details={"field": "prediction_id"},
    )


def _list(value: Any, name: str, max_items: int) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InvalidRequestError(f"'{name}' must be a non-empty list", details={"field": name})
    if len(value) > max_items:
        raise TooManyRecordsError(
            f"'{name}' has {len(value)} items, at most {max_items} are allowed",
            details={"field": name, "max": max_items},
        )
    return value


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequestError(f"'{name}' must be a JSON object", details={"field": name})
    return value


def _by_id(item: Any, model: LoadedModel, where: str) -> FeedbackItem:
    item = _obj(item, "feedback")
    pid = item.get("prediction_id")
    # Ids are UUIDs: anything longer, or with NUL or non-ASCII characters, is refused here rather
    # than sent to the database (PostgreSQL refuses a NUL in a query parameter: that would be a 500).
    if not isinstance(pid, str) or not pid or len(pid) > _MAX_ID or not (pid.isascii() and pid.isprintable()):
        raise InvalidRequestError(
            f"{where}'prediction_id' must be a prediction id from /predict (a string of at most "
            f"{_MAX_ID} printable ASCII characters)",
            details={"field": "prediction_id"},
        )
    if "label" not in item:
        raise InvalidRequestError(f"{where}missing field 'label'", details={"field": "label"})
    return FeedbackItem(normalise_label(item["label"], model.classes, where), prediction_id=pid)


def _labelled(
    records: list[Any], model: LoadedModel, target: str, extra: ExtraFields, many: bool
) -> list[FeedbackItem]:
    out = []
    for i, rec in enumerate(records):
        where = f"record {i}: " if many else ""
        rec = _obj(rec, "records")
        if target not in rec:
            raise InvalidLabelError(f"{where}missing label field {target!r}", details={"field": target})
        label = normalise_label(rec[target], model.classes, where)
        features = {k: v for k, v in rec.items() if k != target}
        clean = validate_records(model.schema, [features], many=False, extra=extra)[0]
        out.append(FeedbackItem(label, record=clean))
    return out


def known_predictions(store: Store, ids: Sequence[str]) -> set[str]:
    with store.connect() as conn:
        rows = conn.execute(
            select(predictions.c.id).where(
                predictions.c.project == store.project, predictions.c.id.in_(list(set(ids)))
            )
        ).all()
    return {r.id for r in rows}


def store_feedback(store: Store, items: Sequence[FeedbackItem]) -> int:
    """Insert the feedback; UnknownPredictionError (404) names the first unknown id, nothing stored."""
    ids = [it.prediction_id for it in items if it.prediction_id]
    missing = sorted(set(ids) - known_predictions(store, ids)) if ids else []
    if missing:
        raise UnknownPredictionError(
            f"unknown prediction_id {missing[0]!r}",
            details={"field": "prediction_id", "unknown": missing[:50]},
        )
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            insert(feedback),
            [
                {
                    "project": store.project,
                    "prediction_id": it.prediction_id,
                    "record": it.record,
                    "label": it.label,
                    "received_at": now,
                }
                for it in items
            ],
        )
    return len(items)
