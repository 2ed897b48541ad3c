"""Feedback: ground truth for a logged prediction, or labelled records. Parsing is pure; storage is not.

A label must be one of the champion's classes (classification; compared by canonical string, so
``1``, ``1.0`` and ``"1"`` are the same class) or a finite number (regression).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from evergreen.data.values import canonical_str
from evergreen.errors import (
    AlreadyLabelledError,
    InvalidLabelError,
    InvalidRequestError,
    TooManyRecordsError,
    UnknownPredictionError,
    shown_json,
)
from evergreen.serving.model import LoadedModel
from evergreen.serving.payload import display_name, refuse_unexpected
from evergreen.serving.schema import ExtraFields, validate_records
from evergreen.store.engine import Store, utcnow
from evergreen.store.tables import feedback, predictions


@dataclass(frozen=True)
class FeedbackItem:
    label: Any
    prediction_id: str | None = None
    record: dict[str, Any] | None = None


_MAX_ID = 36
Relabel = Literal["refuse", "latest"]


def _finite(value: int | float) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    try:
        return math.isfinite(float(value))
    except OverflowError:  # a 400-digit integer
        return False


def normalise_label(label: Any, classes: tuple[Any, ...] | None, where: str, field: str = "label") -> Any:
    """The label as the model's class value; InvalidLabelError (422) naming ``field`` otherwise.

    ``field`` is where the label was sent: ``label`` beside a prediction id, the target column in a
    labelled record."""
    if classes is None:
        ok = isinstance(label, int | float) and not isinstance(label, bool) and _finite(label)
        if not ok:
            raise InvalidLabelError(
                f"{where}{field} must be a finite number for a regression model, got {shown_json(label)}",
                details={"field": field},
            )
        return label
    if label is None or isinstance(label, dict | list):
        raise InvalidLabelError(
            f"{where}{field} must be one of {shown_json(list(classes), 200)}, got {shown_json(label)}",
            details={"field": field, "allowed": list(classes)},
        )
    by_text = {canonical_str(c): c for c in classes}
    key = canonical_str(label)
    if key not in by_text:
        allowed = shown_json(list(classes), 200)
        raise InvalidLabelError(
            f"{where}{field} {shown_json(label)} is not a class of the model: {allowed}",
            details={"field": field, "allowed": list(classes)},
        )
    return by_text[key]


def parse_feedback(
    payload: Any,
    model: LoadedModel,
    target: str,
    *,
    max_items: int,
    extra: ExtraFields,
    drop: frozenset[str] = frozenset(),
) -> list[FeedbackItem]:
    """Accepts ``{prediction_id, label}``, ``{"feedback": [...]}``, ``{record, label}`` or
    ``{"records": [...]}`` (each record carrying its label in the target column). ``drop``
    (``data.pii.drop``): fields removed from a record before it is checked, as at ingest."""
    if not isinstance(payload, dict):
        raise InvalidRequestError("feedback must be a JSON object", details={"field": "(body)"})
    # Each form takes its own keys and no other (refuse_unexpected): a misspelt key would lose labels.
    if "feedback" in payload:
        refuse_unexpected(payload, ("feedback",))
        items = _list(payload["feedback"], "feedback", max_items)
        return [_by_id(it, model, f"feedback {i}: ") for i, it in enumerate(items)]
    if "prediction_id" in payload:
        return [_by_id(payload, model, "")]
    if "record" in payload:
        refuse_unexpected(payload, ("record", "label"))
        if "label" not in payload:
            raise InvalidRequestError("missing field 'label'", details={"field": "label"})
        return _labelled(
            [{**_obj(payload["record"], "record"), target: payload["label"]}],
            model,
            target,
            extra,
            drop,
            many=False,
        )
    if "records" in payload:
        refuse_unexpected(payload, ("records",))
        return _labelled(
            _list(payload["records"], "records", max_items), model, target, extra, drop, many=True
        )
    forms = "expected 'prediction_id' and 'label', 'feedback', 'record' and 'label', or 'records'"
    unexpected = [display_name(k) for k in payload if k != "label"]
    if unexpected:  # no form's leading key: a misspelt one, say ("feedbak")
        raise InvalidRequestError(
            f"unexpected field {unexpected[0]!r}: {forms}", details={"field": unexpected[0]}
        )
    raise InvalidRequestError(forms, details={"field": "prediction_id"})


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
    refuse_unexpected(item, ("prediction_id", "label"), where)
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
    records: list[Any], model: LoadedModel, target: str, extra: ExtraFields, drop: frozenset[str], many: bool
) -> list[FeedbackItem]:
    out = []
    for i, rec in enumerate(records):
        where = f"record {i}: " if many else ""
        rec = _obj(rec, "records")
        if target not in rec:
            raise InvalidLabelError(f"{where}missing label field {target!r}", details={"field": target})
        label = normalise_label(rec[target], model.classes, where, field=target)
        features = {k: v for k, v in rec.items() if k != target}
        clean = validate_records(model.schema, [features], many=False, extra=extra, drop=drop)[0]
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


def store_feedback(
    store: Store,
    items: Sequence[FeedbackItem],
    *,
    relabel: Relabel = "refuse",
    labelled_by: str | None = None,
) -> int:
    """Insert the feedback; UnknownPredictionError (404) names the first unknown id, nothing stored.

    A prediction holds one label: a second one is refused (AlreadyLabelledError, 409, nothing stored)
    or, with ``relabel="latest"``, replaces the first. The unique index on (project, prediction_id)
    settles two processes labelling the same prediction at once: the loser gets the same 409, or
    (``latest``) tries once more and updates the winner's row.
    """
    ids = [it.prediction_id for it in items if it.prediction_id]
    missing = sorted(set(ids) - known_predictions(store, ids)) if ids else []
    if missing:
        raise UnknownPredictionError(
            f"unknown prediction_id {missing[0]!r}",
            details={"field": "prediction_id", "unknown": missing[:50]},
        )
    if relabel == "refuse":
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)  # one pass: ids may be thousands
        if repeated:
            raise _already(repeated, "appears more than once in this request")
    else:  # the last label sent for an id is the one kept
        last = {it.prediction_id: n for n, it in enumerate(items) if it.prediction_id}
        items = [it for n, it in enumerate(items) if not it.prediction_id or last[it.prediction_id] == n]
    for attempt in (1, 2):
        try:
            _write(store, items, relabel, labelled_by)
            return len(items)
        except IntegrityError:
            if relabel == "refuse" or attempt == 2:
                raise _already(sorted(set(ids)), "was labelled by another request just now") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _already(ids: list[str], why: str) -> AlreadyLabelledError:
    return AlreadyLabelledError(
        f"prediction_id {ids[0]!r} {why}; a prediction keeps its first label "
        "(serving.feedback_relabel: refuse)",
        details={"field": "prediction_id", "labelled": ids[:50]},
    )


def _write(store: Store, items: Sequence[FeedbackItem], relabel: Relabel, labelled_by: str | None) -> None:
    now = utcnow()
    ids = [it.prediction_id for it in items if it.prediction_id]
    with store.begin() as conn:
        labelled: set[str] = set()
        if ids:
            labelled = set(
                conn.execute(
                    select(feedback.c.prediction_id).where(
                        feedback.c.project == store.project, feedback.c.prediction_id.in_(ids)
                    )
                ).scalars()
            )
        if labelled and relabel == "refuse":
            raise _already(sorted(labelled), "already has a label")
        for it in items:
            if it.prediction_id in labelled:
                # The newest label, and out of any batch again so that it reaches the training data.
                conn.execute(
                    update(feedback)
                    .where(feedback.c.project == store.project, feedback.c.prediction_id == it.prediction_id)
                    .values(label=it.label, labelled_by=labelled_by, received_at=now, batch_id=None)
                )
        fresh = [it for it in items if it.prediction_id not in labelled]
        if fresh:
            conn.execute(
                insert(feedback),
                [
                    {
                        "project": store.project,
                        "prediction_id": it.prediction_id,
                        "record": it.record,
                        "label": it.label,
                        "received_at": now,
                        "labelled_by": labelled_by,
                    }
                    for it in fresh
                ],
            )
