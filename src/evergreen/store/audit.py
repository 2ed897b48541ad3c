"""The audit trail (``alert_actions``): append-only record of every action on a model or alert."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from evergreen.errors import BadInputError
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.tables import alert_actions


def iso_utc(ts: datetime | None) -> str:
    """A stored timestamp as ISO-8601 UTC text, as the API and the audit trail show it ("" for none)."""
    t = as_utc(ts)
    return t.isoformat() if t is not None else ""


MAX_ACTOR = 100  # the width of the actor columns (alert_actions, decisions, alerts' *_by)


def cli_actor(explicit: str | None = None) -> str:
    if explicit:
        if len(explicit) > MAX_ACTOR:  # PostgreSQL refuses the row: a database error after the checks
            raise BadInputError(
                f"--actor: at most {MAX_ACTOR} characters (got {len(explicit)})", details={"field": "actor"}
            )
        return explicit
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (nor $USER) in some containers
        return "cli:unknown"


def record_action(
    store: Store,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    reason: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(alert_actions).values(
                project=store.project,
                actor=actor,
                action=action,
                target=target,
                reason=store.redact.value(reason),
                before=store.redact.value(before),
                after=store.redact.value(after),
                at=utcnow(),
            )
        )


def list_actions(
    store: Store,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    q = select(alert_actions).where(alert_actions.c.project == store.project)
    if actor:
        q = q.where(alert_actions.c.actor == actor)
    if action:
        q = q.where(alert_actions.c.action == action)
    if target:
        q = q.where(alert_actions.c.target == target)
    if since:
        q = q.where(alert_actions.c.at >= since)
    q = q.order_by(alert_actions.c.id.desc()).limit(limit)
    with store.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [{**dict(r), "at": iso_utc(r["at"])} for r in rows]


# The actions that move the champion alias (evergreen.champion.move_champion records each one, a
# retrain's promotion as "promote"): their ``after`` names the new champion.
CHAMPION_MOVES = ("promote", "approve", "rollback")


def last_champion_set(store: Store) -> str | None:
    """The champion of the newest move of the alias the audit trail records (``after``'s
    ``champion``); None when evergreen never set one.

    The registry's alias can disappear behind evergreen's back (deleting a version in MLflow deletes
    its aliases): this tells "none yet" from "v3 was the champion, and its alias is gone". Only the
    moves are read: scanning the newest rows of every action, a busy trail (gc deletions, swap
    failures, alert acknowledgements) pushed the last move out of the window.
    """
    a = alert_actions
    query = (
        select(a.c.after)
        .where(a.c.project == store.project, a.c.action.in_(CHAMPION_MOVES))
        .order_by(a.c.id.desc())
        .limit(1)
    )
    with store.connect() as conn:
        after = conn.execute(query).scalar()
    if isinstance(after, dict) and after.get("champion") is not None:
        return str(after["champion"])
    return None


def champion_alias_gone(alias: str, last: str) -> str:
    """The sentence for a registry without ``alias`` (the champion's) although evergreen last made
    v``last`` the champion (:func:`last_champion_set`): one wording for the run's record and for
    ``evergreen status``. The alias's name is the caller's (this layer does not know the registry)."""
    return (
        f"the registry has no '{alias}' alias; evergreen last made v{last} the champion "
        "(deleted or moved by hand in MLflow?)"
    )
