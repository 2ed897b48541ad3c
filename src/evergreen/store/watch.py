"""What the watch after a promotion reads: the newest champion move, and the paired live predictions.

A *watch* starts with a promotion (a retrain's, a person's promote or approve): its audit row says
which version became the champion (``after.champion``) and which one it replaced
(``before.champion``). While it lasts the replaced one scores live traffic in shadow; its
predictions are ``predictions`` rows of role ``shadow`` pointing at the champion's row
(``shadow_of``, migration 0002), and labels arrive in ``feedback`` against the champion's row.
A rollback (or any later move) ends it: only the newest move counts. So does a rollback the watch
tried and was refused (``rollback_refused``: ``previous`` cannot be served); it is not tried again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from evergreen.store.audit import CHAMPION_MOVES
from evergreen.store.engine import Store, as_utc
from evergreen.store.tables import alert_actions, feedback, predictions

MOVES = CHAMPION_MOVES
WATCHED = ("promote", "approve")
# The audit action of an automatic rollback refused (its target cannot be served): it ends the watch.
ROLLBACK_REFUSED = "rollback_refused"


@dataclass(frozen=True)
class Watch:
    """The newest promotion, when it replaced a champion: ``champion`` is watched against ``previous``."""

    audit_id: int
    champion: str
    previous: str
    started_at: datetime


@dataclass(frozen=True)
class LabelledPair:
    """One live record both models scored, with its label: each model's prediction and, for a
    classifier, its probabilities as logged (``{class: probability}``, JSON keys are strings)."""

    new: Any
    old: Any
    label: Any
    new_proba: dict[str, Any] | None = None
    old_proba: dict[str, Any] | None = None


def current_watch(store: Store) -> Watch | None:
    """The watch the newest champion move opened, or None (a rollback, a refused rollback since the
    move, a first champion, no move)."""
    a = alert_actions
    query = (
        select(a.c.id, a.c.action, a.c.before, a.c.after, a.c.at)
        .where(
            a.c.project == store.project,
            a.c.action.in_((*MOVES, ROLLBACK_REFUSED)),
            a.c.target.like("version:%"),
        )
        .order_by(a.c.id.desc())
        .limit(1)
    )
    with store.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None or row["action"] not in WATCHED:
        return None
    champion = (row["after"] or {}).get("champion")
    previous = (row["before"] or {}).get("champion")
    at = as_utc(row["at"])
    if not champion or not previous or str(champion) == str(previous) or at is None:
        return None
    return Watch(int(row["id"]), str(champion), str(previous), at)


def _pairs(store: Store, watch: Watch) -> Any:
    champ, shadow = predictions.alias("champ"), predictions.alias("shadow")
    joined = champ.join(shadow, (shadow.c.shadow_of == champ.c.id) & (shadow.c.project == champ.c.project))
    where = (
        (champ.c.project == store.project)
        & (champ.c.role == "champion")
        & (champ.c.model_version == watch.champion)
        & (shadow.c.role == "shadow")
        & (shadow.c.model_version == watch.previous)
        & (champ.c.created_at >= watch.started_at)
    )
    return champ, shadow, joined, where


def paired_count(store: Store, watch: Watch) -> int:
    """Live records both models scored since the watch began (labelled or not)."""
    _champ, _shadow, joined, where = _pairs(store, watch)
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one())


def labelled_pairs(store: Store, watch: Watch, limit: int) -> list[LabelledPair]:
    """The first ``limit`` paired live records of the watch that carry a label. A record has one
    label (the unique index on ``feedback(project, prediction_id)``, migration 0008; a relabel
    updates it), so the database stops at ``limit`` rows: the scheduler asks on every tick while the
    watch runs."""
    champ, shadow, joined, where = _pairs(store, watch)
    f = feedback
    query = (
        select(
            champ.c.prediction, shadow.c.prediction, f.c.label, champ.c.probabilities, shadow.c.probabilities
        )
        .select_from(joined.join(f, (f.c.prediction_id == champ.c.id) & (f.c.project == champ.c.project)))
        .where(where)
        .order_by(champ.c.created_at, champ.c.id)
        .limit(limit)
    )
    with store.connect() as conn:
        return [LabelledPair(*row) for row in conn.execute(query)]
