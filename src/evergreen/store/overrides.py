"""Rows of ``settings_overrides``: the run-time thresholds persisted by ``PUT /api/settings/thresholds``.

Only reads and writes live here; what may be overridden and how a value is validated is
:mod:`evergreen.overrides`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from evergreen.store.audit import iso_utc
from evergreen.store.engine import Store, utcnow
from evergreen.store.tables import settings_overrides


def load_overrides(store: Store) -> dict[str, dict[str, Any]]:
    """key → {value, actor, updated_at}, in the order they were written."""
    t = settings_overrides
    with store.connect() as conn:
        rows = conn.execute(select(t).where(t.c.project == store.project).order_by(t.c.id)).mappings().all()
    return {
        r["key"]: {"value": r["value"], "actor": r["actor"], "updated_at": iso_utc(r["updated_at"])}
        for r in rows
    }


def replace_overrides(store: Store, *, remove: Iterable[str], values: Mapping[str, Any], actor: str) -> None:
    """Delete the rows of ``remove`` and write ``values`` (key → JSON value), in one transaction."""
    t = settings_overrides
    remove = list(remove)
    now = utcnow()
    with store.begin() as conn:
        if remove:
            conn.execute(delete(t).where(t.c.project == store.project, t.c.key.in_(remove)))
        for key, value in values.items():
            conn.execute(
                insert(t).values(project=store.project, key=key, value=value, actor=actor, updated_at=now)
            )
