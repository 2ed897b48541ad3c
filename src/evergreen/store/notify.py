"""Send the "champion moved" hint to running servers (PostgreSQL NOTIFY on ``evergreen_champion``).

Polling the registry is the guarantee; a notification only makes the swap immediate. So sending is
best effort (a failure is logged, never raised into a promote) and a no-op on SQLite. The listening
side lives in :mod:`evergreen.serving.notify`; both use :data:`CHANNEL` from here.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.store.engine import Store

CHANNEL = "evergreen_champion"
log = get_logger(__name__)


def is_postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


def notify_champion_changed(store: Store, version: str | None) -> bool:
    """Send a notification on PostgreSQL; return whether one was sent."""
    if not is_postgres(store):
        return False
    payload = json.dumps({"project": store.project, "version": version})
    try:
        with store.begin() as conn:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
            )
    except Exception as exc:  # a promote must not fail because a hint could not be sent
        log.warning("champion_notify_failed", error=one_line(exc))
        return False
    return True
