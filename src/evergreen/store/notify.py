"""Send hints to running servers on PostgreSQL's ``evergreen_champion`` channel (NOTIFY).

Two events, told apart by the payload's ``event``: ``champion`` (the alias moved: swap now instead of
at the next poll) and ``registered`` (a candidate version was registered: load it now, in the
background, so that its promotion, if it comes, is a pointer swap). Polling the registry is the
guarantee; a notification only makes things happen sooner. So sending is best effort (a failure is
logged, never raised into a promote or a retrain) and a no-op on SQLite. The listening side lives in
:mod:`evergreen.serving.notify`; both use :data:`CHANNEL` and :data:`NoticeEvent` from here.
"""

from __future__ import annotations

import json
from typing import Literal

from sqlalchemy import text

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.store.engine import Store

CHANNEL = "evergreen_champion"
NoticeEvent = Literal["champion", "registered"]
log = get_logger(__name__)


def is_postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


def notify_champion_changed(store: Store, version: str | None) -> bool:
    """The champion alias now points at ``version``; return whether a notification was sent."""
    return _send(store, "champion", version)


def notify_version_registered(store: Store, version: str) -> bool:
    """``version`` was registered (its decision still to come); return whether one was sent."""
    return _send(store, "registered", version)


def _send(store: Store, event: NoticeEvent, version: str | None) -> bool:
    if not is_postgres(store):
        return False
    # A listener older than the "event" key reads any message as "the champion moved" and polls the
    # registry once: harmless for a registration.
    payload = json.dumps({"project": store.project, "event": event, "version": version})
    try:
        with store.begin() as conn:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
            )
    except Exception as exc:  # a promote or a retrain must not fail because a hint could not be sent
        log.warning("notify_failed", notice=event, error=one_line(exc))
        return False
    return True
