"""The audit trail as one story: each row says who did what to which thing, why, and what changed (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from evergreen.alerts.messages import alert_path

# What each kind of action is, in the loop's order: alert -> human action -> run -> decision -> champion.
STAGE = {
    "alert_opened": "alert",
    "alert_escalated": "alert",
    "alert_acknowledged": "human",
    "alert_resolved": "human",
    "alert_investigating": "human",
    "alert_retrain": "human",
    "retrain_requested": "human",
    "thresholds_changed": "human",
    "promoted": "decision",
    "rejected": "decision",
    "pending_approval": "decision",
    "skipped": "run",
    "failed": "run",
    "promote": "champion",
    "rollback": "champion",
    "approve": "champion",
    "reject": "decision",
}


@dataclass(frozen=True)
class StoryRow:
    at: str
    actor: str
    action: str
    stage: str
    target: str
    link: str | None
    reason: str
    change: str


def link_of(target: str | None) -> str | None:
    kind, _, ident = (target or "").partition(":")
    if not ident:
        return None
    return {
        "alert": alert_path(ident),
        "run": f"/runs/{ident}",
        "version": f"/models?page=1#v{ident}",
        "settings": "/settings",
    }.get(kind)


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def change_of(before: Any, after: Any) -> str:
    """``key: old -> new`` for the keys that differ (both dicts), else the two values."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        parts = [
            f"{k}: {_short(before.get(k))} -> {_short(after.get(k))}"
            for k in keys
            if before.get(k) != after.get(k)
        ]
        return "; ".join(parts)
    if before is None and after is None:
        return ""
    return f"{_short(before)} -> {_short(after)}"


def story_row(r: dict[str, Any]) -> StoryRow:
    action = r.get("action") or ""
    return StoryRow(
        at=r.get("at") or "",
        actor=r.get("actor") or "",
        action=action,
        stage=STAGE.get(action, "other"),
        target=r.get("target") or "",
        link=link_of(r.get("target")),
        reason=r.get("reason") or "",
        change=change_of(r.get("before"), r.get("after")),
    )


def day_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """``since`` from its midnight UTC, ``until`` to the end of its day (both inclusive days).

    The last day a date can name (9999-12-31) has no next midnight: it is no upper bound at all.
    """
    start = datetime.combine(since, time(0), UTC) if since else None
    end = datetime.combine(until, time(0), UTC) + timedelta(days=1) if until and until < date.max else None
    return start, end
