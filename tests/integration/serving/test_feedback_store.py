"""One label per prediction in the store (SQLite and PostgreSQL): refuse, latest, two writers at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import insert, select

from evergreen.errors import AlreadyLabelledError
from evergreen.serving.feedback import FeedbackItem, store_feedback
from evergreen.store.engine import utcnow
from evergreen.store.tables import feedback, predictions


def _predictions(store: Any, *ids: str) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(predictions),
            [
                {
                    "id": i,
                    "project": store.project,
                    "created_at": utcnow(),
                    "model_version": "1",
                    "record": {},
                }
                for i in ids
            ],
        )


def _rows(store: Any) -> list[tuple[Any, ...]]:
    with store.connect() as conn:
        q = select(feedback.c.prediction_id, feedback.c.label, feedback.c.labelled_by, feedback.c.batch_id)
        return [tuple(r) for r in conn.execute(q.order_by(feedback.c.prediction_id, feedback.c.id))]


def test_refuse_keeps_the_first_label_and_stores_nothing_of_a_refused_request(store: Any) -> None:
    _predictions(store, "p1", "p2")
    assert store_feedback(store, [FeedbackItem("yes", prediction_id="p1")], labelled_by="shop") == 1
    with pytest.raises(AlreadyLabelledError) as exc:
        store_feedback(
            store, [FeedbackItem("no", prediction_id="p2"), FeedbackItem("no", prediction_id="p1")]
        )
    assert exc.value.details == {"field": "prediction_id", "labelled": ["p1"]}
    assert _rows(store) == [("p1", "yes", "shop", None)]  # p2 was not stored either: all or nothing
    # Labelled records have no prediction id: any number of them.
    store_feedback(store, [FeedbackItem("no", record={"a": 1}), FeedbackItem("yes", record={"a": 2})])
    assert len(_rows(store)) == 3


def test_one_request_labelling_a_prediction_twice(store: Any) -> None:
    _predictions(store, "p1", "p2")
    twice = [
        FeedbackItem("yes", prediction_id="p1"),
        FeedbackItem("no", prediction_id="p2"),
        FeedbackItem("no", prediction_id="p1"),
    ]
    with pytest.raises(AlreadyLabelledError, match="'p1' appears more than once") as exc:
        store_feedback(store, twice)
    assert exc.value.details == {"field": "prediction_id", "labelled": ["p1"]}
    assert _rows(store) == []
    assert store_feedback(store, twice, relabel="latest") == 2  # the last label sent for p1 is kept
    assert _rows(store) == [("p1", "no", None, None), ("p2", "no", None, None)]


def test_latest_replaces_the_label_and_returns_it_to_the_next_batch(store: Any) -> None:
    _predictions(store, "p1")
    store_feedback(store, [FeedbackItem("yes", prediction_id="p1")], relabel="latest", labelled_by="a")
    with store.begin() as conn:  # assembled into a training batch meanwhile
        conn.execute(feedback.update().values(batch_id=7))
    store_feedback(store, [FeedbackItem("no", prediction_id="p1")], relabel="latest", labelled_by="b")
    assert _rows(store) == [("p1", "no", "b", None)]


def test_two_writers_at_once_leave_one_label(store: Any) -> None:
    """The unique index decides a race the read-then-write cannot: one row, the loser refused (409)."""
    ids = [f"r{i}" for i in range(20)]
    _predictions(store, *ids)
    outcomes: list[str] = []
    lock = threading.Lock()

    def label(value: str) -> None:
        for pid in ids:
            try:
                store_feedback(store, [FeedbackItem(value, prediction_id=pid)])
                result = "ok"
            except AlreadyLabelledError:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=label, args=(v,)) for v in ("yes", "no")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["ok"] * 20 + ["refused"] * 20
    rows = _rows(store)
    assert [r[0] for r in rows] == sorted(ids)  # exactly one label per prediction
