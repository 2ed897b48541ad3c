"""``store.watch``: the paired live rows the watch after a promotion reads, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert

from evergreen.store.engine import Store, utcnow
from evergreen.store.tables import feedback, predictions
from evergreen.store.watch import Watch, labelled_pairs


def _paired(store: Store, n: int) -> Watch:
    """``n`` live records scored by v2 (champion) and v1 (shadow), each labelled; oldest first."""
    start = utcnow() - timedelta(hours=1)
    rows, shadows, labels = [], [], []
    for i in range(n):
        at = start + timedelta(seconds=i)
        rows.append(dict(id=f"c{i}", created_at=at, model_version="2", role="champion", prediction=i))
        shadows.append(dict(id=f"s{i}", created_at=at, model_version="1", role="shadow", prediction=-i))
        labels.append(dict(project=store.project, prediction_id=f"c{i}", label=10 * i, received_at=at))
    with store.begin() as conn:
        conn.execute(insert(predictions), [{**r, "project": store.project, "record": {}} for r in rows])
        conn.execute(
            insert(predictions),
            [
                {**r, "project": store.project, "record": {}, "shadow_of": f"c{i}"}
                for i, r in enumerate(shadows)
            ],
        )
        conn.execute(insert(feedback), labels)
    return Watch(audit_id=1, champion="2", previous="1", started_at=start)


def test_labelled_pairs_are_the_first_rows_and_the_database_stops_at_the_limit(store: Store) -> None:
    watch = _paired(store, 6)
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        pairs = labelled_pairs(store, watch, 2)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert [(p.new, p.old, p.label) for p in pairs] == [(0, 0, 0), (1, -1, 10)]
    # The scheduler asks on every tick for a week: the rows beyond the limit never leave the database.
    assert any("LIMIT" in s.upper() for s in sent)
    everything = labelled_pairs(store, watch, 100)
    assert [(p.new, p.old, p.label) for p in everything] == [(i, -i, 10 * i) for i in range(6)]
