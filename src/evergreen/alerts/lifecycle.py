"""Pure lifecycle decisions: is this a new alert, an update worth sending, or a silent update?

open → acknowledged → resolved. An acknowledged alert stays quiet (no repeats) unless it gets worse
or a new occurrence of it happens; a resolved alert is closed for good, and the same condition
coming back opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from evergreen.alerts.facts import rank
from evergreen.alerts.rules import AlertCandidate

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
# An alert is "sent" once a delivery of it is recorded. One opened longer ago than this and still not
# sent lost its delivery (the process stopped first): the next evaluation sends it. Younger, its first
# attempt may still be in flight in another process (a channel's default timeout is 10 s).
UNSENT_GRACE = timedelta(minutes=1)
LIVE = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True)
class ExistingAlert:
    id: int
    fingerprint: str
    kind: str
    status: str
    level: str
    sent_level: str | None
    occurrence: str | None
    last_sent_at: datetime | None
    opened_at: datetime | None = None


def send_event(
    existing: ExistingAlert | None, cand: AlertCandidate, now: datetime, repeat: timedelta
) -> str | None:
    """Why this evaluation notifies the channels (``None``: update the row silently)."""
    if existing is None:
        return "opened"
    if existing.sent_level is None and existing.last_sent_at is None:
        if existing.status != OPEN or existing.opened_at is None or now - existing.opened_at < UNSENT_GRACE:
            return None  # its first delivery may be in flight (or someone acknowledged it meanwhile)
        return "opened"  # opened, never delivered (the process stopped first): send it now
    if rank(cand.level) > rank(existing.sent_level):
        return "escalated"
    if cand.occurrence is not None and cand.occurrence != existing.occurrence:
        return "occurred"
    if existing.status == OPEN and (existing.last_sent_at is None or now - existing.last_sent_at >= repeat):
        return "repeated"
    return None


def can_transition(status: str, target: str) -> bool:
    """acknowledge: only an open alert; resolve: an open or acknowledged one."""
    if target == ACKNOWLEDGED:
        return status == OPEN
    if target == RESOLVED:
        return status in LIVE
    return False
