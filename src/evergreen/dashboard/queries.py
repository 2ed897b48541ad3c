"""The dashboard's page queries: filtered, counted, one page at a time, each on an index.

Every list is ``ORDER BY <indexed column> DESC LIMIT size OFFSET (page-1)*size`` with the filters in
the WHERE clause, plus a COUNT for the pager; migration 0007 adds the indexes these use
(``pipeline_runs (project, started_at)``, ``alerts (project, status, id)``,
``alert_actions (project, id)``). Rows come back as plain dicts with ISO-8601 UTC times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, func, select
from sqlalchemy.sql.elements import ColumnElement

from evergreen.store.audit import CHAMPION_MOVES
from evergreen.store.engine import Store, as_utc
from evergreen.store.tables import (
    alert_actions,
    alert_deliveries,
    alerts,
    decisions,
    drift_reports,
    pipeline_runs,
)

MAX_PAGE = 10_000


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _plain(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = as_utc(v).isoformat()  # type: ignore[union-attr]
    return out


def _where(store: Store, t: Table, **equal: str | None) -> list[ColumnElement[bool]]:
    """This project's rows, and ``column == value`` for each filter given (None or empty: any)."""
    return [t.c.project == store.project, *(t.c[k] == v for k, v in equal.items() if v)]


def _paged(
    store: Store, q: Select[Any], where: list[ColumnElement[bool]], order: list[Any], page: int, size: int
) -> Page:
    page = min(max(page, 1), MAX_PAGE)
    counted = select(func.count()).select_from(q.where(*where).order_by(None).subquery())
    with store.connect() as conn:
        total = int(conn.execute(counted).scalar_one())
        rows = conn.execute(q.where(*where).order_by(*order).limit(size).offset((page - 1) * size))
        return Page([_plain(r) for r in rows.mappings().all()], page, size, total)


def runs_page(
    store: Store, *, page: int = 1, size: int = 25, status: str | None = None, trigger: str | None = None
) -> Page:
    t = pipeline_runs
    where = _where(store, t, status=status, trigger=trigger)
    cols = [t.c[c] for c in ("id", "trigger", "reason", "actor", "status", "step", "started_at")]
    cols += [t.c[c] for c in ("finished_at", "dataset_version", "candidate_version", "champion_version")]
    cols += [t.c.decision, t.c.error, t.c.timings]
    return _paged(store, select(*cols), where, [t.c.started_at.desc(), t.c.id.desc()], page, size)


def run_decisions(store: Store, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest decision of each run (a re-scored approval adds one), in one query for a whole page."""
    if not run_ids:
        return {}
    t = decisions
    out: dict[str, dict[str, Any]] = {}
    with store.connect() as conn:
        for row in conn.execute(select(t).where(t.c.run_id.in_(run_ids)).order_by(t.c.id.desc())).mappings():
            out.setdefault(row["run_id"], _plain(row))
    return out


def alerts_page(
    store: Store,
    *,
    page: int = 1,
    size: int = 25,
    status: str | None = None,
    level: str | None = None,
    alert_id: int | None = None,
) -> Page:
    """A page of alerts, newest first; ``alert_id``: that one alert (where a message's link leads)."""
    t = alerts
    where = _where(store, t, status=status, level=level)
    if alert_id is not None:
        where.append(t.c.id == alert_id)
    return _paged(store, select(t), where, [t.c.id.desc()], page, size)


def alert_counts(store: Store) -> dict[str, dict[str, int]]:
    """Alerts by status and level: {"open": {"critical": 1, ...}, ...}."""
    t = alerts
    q = (
        select(t.c.status, t.c.level, func.count())
        .where(t.c.project == store.project, t.c.status != "resolved")
        .group_by(t.c.status, t.c.level)
    )
    out: dict[str, dict[str, int]] = {}
    with store.connect() as conn:
        for status, level, n in conn.execute(q).all():
            out.setdefault(status, {})[level] = int(n)
    return out


def deliveries_for(store: Store, alert_ids: list[int], per_alert: int = 5) -> dict[int, list[dict[str, Any]]]:
    """Each alert's newest ``per_alert`` delivery attempts. Counted per alert (one limit for the page
    let an alert with many recent attempts take it all: the one beside it showed "None.")."""
    if not alert_ids:
        return {}
    t = alert_deliveries
    newest = func.row_number().over(partition_by=t.c.alert_id, order_by=t.c.id.desc()).label("newest")
    ranked = select(t, newest).where(t.c.alert_id.in_(alert_ids)).subquery()
    q = select(*[ranked.c[c.name] for c in t.columns]).where(ranked.c.newest <= per_alert)
    out: dict[int, list[dict[str, Any]]] = {}
    with store.connect() as conn:
        for r in conn.execute(q.order_by(ranked.c.id.desc())).mappings().all():
            out.setdefault(int(r["alert_id"]), []).append(_plain(r))
    return out


def reports_page(store: Store, *, page: int = 1, size: int = 25, window: str | None = None) -> Page:
    t = drift_reports
    where = _where(store, t, window=window)
    return _paged(store, select(t), where, [t.c.report_date.desc(), t.c.id.desc()], page, size)


def report_path(store: Store, report_id: int) -> str | None:
    t = drift_reports
    with store.connect() as conn:
        return conn.execute(
            select(t.c.html_path).where(t.c.project == store.project, t.c.id == report_id)
        ).scalar_one_or_none()


def audit_page(
    store: Store,
    *,
    page: int = 1,
    size: int = 25,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page:
    t = alert_actions
    where = _where(store, t, action=action)
    if actor:
        where.append(t.c.actor.contains(actor, autoescape=True))
    if target:
        where.append(t.c.target.contains(target, autoescape=True))
    if since:
        where.append(t.c.at >= since)
    if until:
        where.append(t.c.at < until)
    return _paged(store, select(t), where, [t.c.id.desc()], page, size)


def audit_actions(store: Store) -> list[str]:
    """The action names in the trail, for the History filter."""
    t = alert_actions
    with store.connect() as conn:
        rows = conn.execute(select(t.c.action).where(t.c.project == store.project).distinct()).all()
    return sorted(r[0] for r in rows)


CHAMPION_ACTIONS = CHAMPION_MOVES


def champion_since(store: Store, version: str) -> str:
    """When ``version`` last became the champion (its newest promote, rollback or approve)."""
    t = alert_actions
    q = (
        select(t.c.at)
        .where(
            t.c.project == store.project, t.c.target == f"version:{version}", t.c.action.in_(CHAMPION_ACTIONS)
        )
        .order_by(t.c.id.desc())
        .limit(1)
    )
    with store.connect() as conn:
        at = conn.execute(q).scalar_one_or_none()
    return "" if at is None else as_utc(at).isoformat()  # type: ignore[union-attr]


def version_decision(store: Store, version: str) -> dict[str, Any] | None:
    """The newest policy decision that scored ``version`` as the candidate (its holdout metrics)."""
    t = decisions
    q = (
        select(t)
        .where(
            t.c.project == store.project, t.c.candidate_version == version, t.c.candidate_metrics.is_not(None)
        )
        .order_by(t.c.id.desc())
        .limit(1)
    )
    with store.connect() as conn:
        row = conn.execute(q).mappings().first()
    return None if row is None else _plain(row)
