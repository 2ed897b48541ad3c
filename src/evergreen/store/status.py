"""Counts the status summary shows (``evergreen status``, the control layer's ``status``)."""

from __future__ import annotations

from sqlalchemy import func, select

from evergreen.store.engine import Store
from evergreen.store.tables import batches


def batch_counts(store: Store) -> dict[str, int]:
    """Batches by status, and the rows of the accepted ones."""
    q = (
        select(batches.c.status, func.count(), func.coalesce(func.sum(batches.c.rows), 0))
        .where(batches.c.project == store.project)
        .group_by(batches.c.status)
    )
    counts = {"accepted": 0, "quarantined": 0, "duplicate": 0, "rows": 0}
    with store.connect() as conn:
        for status, n, rows in conn.execute(q).all():
            counts[status] = int(n)
            if status == "accepted":
                counts["rows"] = int(rows)
    return counts
