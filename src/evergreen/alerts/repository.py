"""The ``alerts`` and ``alert_deliveries`` rows, and the facts gathered from the other tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from evergreen.alerts.facts import (
    ChampionChange,
    DriftFact,
    Facts,
    PendingApproval,
    RetrainFailure,
    RetrainState,
    RollbackRefused,
    SwapFailure,
    window_key,
)
from evergreen.alerts.lifecycle import LIVE, ExistingAlert
from evergreen.alerts.rules import AlertCandidate
from evergreen.errors import NotFoundError
from evergreen.store.audit import CHAMPION_MOVES, iso_utc
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.tables import alert_actions, alert_deliveries, alerts, drift_reports, pipeline_runs
from evergreen.store.watch import ROLLBACK_REFUSED

ALERT_STATUSES = ("open", "acknowledged", "resolved")
CHAMPION_ACTIONS = CHAMPION_MOVES
TIME_COLUMNS = ("opened_at", "updated_at", "last_sent_at", "resolved_at", "acknowledged_at", "at")


def _iso(d: dict[str, Any]) -> dict[str, Any]:
    for k in TIME_COLUMNS:
        if isinstance(d.get(k), datetime):
            d[k] = iso_utc(d[k])
    return d


def live_alerts(store: Store) -> dict[str, ExistingAlert]:
    with store.connect() as conn:
        rows = (
            conn.execute(
                select(alerts)
                .where(alerts.c.project == store.project, alerts.c.status.in_(LIVE))
                .order_by(alerts.c.id)
            )
            .mappings()
            .all()
        )
    return {r["fingerprint"]: existing(r) for r in rows}


def existing(r: Any) -> ExistingAlert:
    last = r["last_sent_at"]
    return ExistingAlert(
        r["id"],
        r["fingerprint"],
        r["kind"],
        r["status"],
        r["level"],
        r["sent_level"],
        r["occurrence"],
        datetime.fromisoformat(last) if isinstance(last, str) else as_utc(last),
        datetime.fromisoformat(opened) if isinstance(opened := r["opened_at"], str) else as_utc(opened),
    )


def insert_alert(store: Store, cand: AlertCandidate, now: datetime) -> int | None:
    """The new alert's id; None when another process opened a live alert for this cause first
    (the partial unique index of migration 0010 refuses the second one)."""
    try:
        with store.begin() as conn:
            res = conn.execute(
                insert(alerts).values(
                    project=store.project,
                    fingerprint=cand.fingerprint,
                    kind=cand.kind,
                    level=cand.level,
                    status="open",
                    title=store.redact(cand.title),
                    details=store.redact.value(cand.details),
                    opened_at=now,
                    updated_at=now,
                    occurrence=cand.occurrence,
                    seen_count=1,
                )
            )
    except IntegrityError:
        return None
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def update_alert(store: Store, existing: ExistingAlert, cand: AlertCandidate, now: datetime) -> None:
    with store.begin() as conn:
        conn.execute(
            update(alerts)
            .where(alerts.c.id == existing.id)
            .values(
                level=cand.level,
                title=store.redact(cand.title),
                details=store.redact.value(cand.details),
                updated_at=now,
                occurrence=cand.occurrence,
                seen_count=alerts.c.seen_count + 1,
            )
        )


def mark_sent(store: Store, alert_id: int, level: str, now: datetime) -> None:
    """Record the alert sent at ``level`` as of the evaluation at ``now``. Each channel has its own
    delivery thread, so an older evaluation's mark (a slow Slack's "opened") may arrive after a newer
    one's ("escalated"): it never moves the record back."""
    newer = or_(alerts.c.last_sent_at.is_(None), alerts.c.last_sent_at <= now)
    with store.begin() as conn:
        conn.execute(
            update(alerts).where(alerts.c.id == alert_id, newer).values(sent_level=level, last_sent_at=now)
        )


def set_status(
    store: Store, alert_id: int, status: str, actor: str, now: datetime, *, only_from: str | None = None
) -> bool:
    """Change the alert's status; with ``only_from``, only if it still has that status (compare and
    set: of two processes acting on one alert at once, one wins). False when nothing changed."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "acknowledged":
        values |= {"acknowledged_at": now, "acknowledged_by": actor}
    else:
        values |= {"resolved_at": now, "resolved_by": actor}
    q = update(alerts).where(alerts.c.id == alert_id)
    if only_from is not None:
        q = q.where(alerts.c.status == only_from)
    with store.begin() as conn:
        return conn.execute(q.values(**values)).rowcount == 1


def get_alert(store: Store, alert_id: int) -> dict[str, Any]:
    with store.connect() as conn:
        r = (
            conn.execute(select(alerts).where(alerts.c.id == alert_id, alerts.c.project == store.project))
            .mappings()
            .first()
        )
    if r is None:
        raise NotFoundError(f"alert {alert_id} not found", details={"alert_id": alert_id})
    return _iso(dict(r))


def list_alerts(
    store: Store,
    *,
    status: str | None = None,
    kind: str | None = None,
    level: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    q = select(alerts).where(alerts.c.project == store.project)
    for col, value in ((alerts.c.status, status), (alerts.c.kind, kind), (alerts.c.level, level)):
        if value:
            q = q.where(col == value)
    with store.connect() as conn:
        rows = conn.execute(q.order_by(alerts.c.id.desc()).limit(limit)).mappings().all()
    return [_iso(dict(r)) for r in rows]


def record_delivery(
    store: Store,
    *,
    alert_id: int,
    channel: str,
    channel_type: str,
    event: str,
    level: str,
    attempt: int,
    status: str,
    error: str | None,
) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(alert_deliveries).values(
                project=store.project,
                alert_id=alert_id,
                channel=channel,
                channel_type=channel_type,
                event=event,
                level=level,
                attempt=attempt,
                status=status,
                error=store.redact(error) if error else error,
                at=utcnow(),
            )
        )


def list_deliveries(store: Store, alert_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    q = select(alert_deliveries).where(alert_deliveries.c.project == store.project)
    if alert_id is not None:
        q = q.where(alert_deliveries.c.alert_id == alert_id)
    with store.connect() as conn:
        rows = conn.execute(q.order_by(alert_deliveries.c.id).limit(limit)).mappings().all()
    return [_iso(dict(r)) for r in rows]


# ---- facts ---------------------------------------------------------------------------------------
def gather_drift(store: Store, scan: int = 200) -> tuple[DriftFact, ...]:
    """The newest report of each window (all ``batch:*`` windows count as one)."""
    t = drift_reports
    with store.connect() as conn:
        rows = (
            conn.execute(
                select(t)
                .where(t.c.project == store.project)
                .order_by(t.c.report_date.desc(), t.c.id.desc())
                .limit(scan)
            )
            .mappings()
            .all()
        )
    seen: dict[str, DriftFact] = {}
    for r in rows:
        key = window_key(str(r["window"] or ""))
        if key not in seen:
            seen[key] = DriftFact.from_row({**dict(r), "report_date": as_utc(r["report_date"])})
    return tuple(seen.values())


def _audit(store: Store, actions: tuple[str, ...], after_id: int = 0, limit: int = 50) -> list[Any]:
    a = alert_actions
    with store.connect() as conn:
        return list(
            conn.execute(
                select(a)
                .where(a.c.project == store.project, a.c.action.in_(actions), a.c.id > after_id)
                .order_by(a.c.id.desc())
                .limit(limit)
            )
            .mappings()
            .all()
        )


def gather_retrain(store: Store) -> RetrainState:
    """Failing when the newest finished run failed or was abandoned, or a later ``retrain_failed``
    audit row (a failure before any run started, e.g. the database or MLflow down) says so."""
    r = pipeline_runs
    with store.connect() as conn:
        run = (
            conn.execute(
                select(r)
                .where(r.c.project == store.project, r.c.status != "running", r.c.finished_at.is_not(None))
                .order_by(r.c.finished_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    failure = None
    if run is not None and run["status"] in ("failed", "abandoned"):
        failure = RetrainFailure(
            f"run:{run['id']}",
            run["status"],
            run["id"],
            (run["error"] or run["status"]).splitlines()[0][:500],
            iso_utc(run["finished_at"]),
        )
    audit = _audit(store, ("retrain_failed",), limit=1)
    if audit:
        row = audit[0]
        at = as_utc(row["at"])
        run_done = as_utc(run["finished_at"]) if run is not None else None
        if run_done is None or (at is not None and at > run_done):
            run_id = (row["after"] or {}).get("run_id") if isinstance(row["after"], dict) else None
            failure = RetrainFailure(
                f"audit:{row['id']}",
                "failed",
                run_id,
                (row["reason"] or "retrain failed").splitlines()[0][:500],
                at.isoformat() if at else "",
            )
    return RetrainState(failure)


def gather_champion(store: Store) -> tuple[ChampionChange | None, tuple[SwapFailure, ...]]:
    changes = _audit(store, CHAMPION_ACTIONS, limit=1)
    change = None
    last_change_id = 0
    if changes:
        c = changes[0]
        last_change_id = int(c["id"])
        before, after = c["before"] or {}, c["after"] or {}
        change = ChampionChange(
            int(c["id"]),
            c["action"],
            after.get("champion"),
            before.get("champion"),
            c["actor"],
            c["reason"],
            iso_utc(c["at"]),
        )
    # A swap failure counts until the champion moves again (to a version that may load).
    failures: dict[tuple[str, str], SwapFailure] = {}
    for row in _audit(store, ("swap_failed",), after_id=last_change_id):
        version = str(row["target"] or "").removeprefix("version:")
        role = str((row["before"] or {}).get("role") or "champion")
        if (role, version) not in failures:
            failures[(role, version)] = SwapFailure(
                int(row["id"]), version, role, (row["reason"] or "")[:500], iso_utc(row["at"])
            )
    return change, tuple(failures.values())


def gather_rollback_refused(store: Store, after_id: int) -> tuple[RollbackRefused, ...]:
    """The newest automatic rollback refused since the champion last moved (``after_id``), if any."""
    rows = _audit(store, (ROLLBACK_REFUSED,), after_id=after_id, limit=1)
    return tuple(
        RollbackRefused(
            int(r["id"]),
            (r["before"] or {}).get("champion"),
            str(r["target"] or "").removeprefix("version:"),
            (r["reason"] or "")[:500],
            iso_utc(r["at"]),
        )
        for r in rows
    )


def gather_pending(store: Store) -> tuple[PendingApproval, ...]:
    r = pipeline_runs
    with store.connect() as conn:
        rows = (
            conn.execute(
                select(r)
                .where(and_(r.c.project == store.project, r.c.status == "pending_approval"))
                .order_by(r.c.started_at)
            )
            .mappings()
            .all()
        )
    return tuple(
        PendingApproval(
            x["id"],
            x["candidate_version"],
            x["champion_version"],
            iso_utc(x["finished_at"] or x["started_at"]),
        )
        for x in rows
    )


def gather_facts(store: Store) -> Facts:
    change, swaps = gather_champion(store)
    return Facts(
        rollback_refused=gather_rollback_refused(store, change.audit_id if change else 0),
        drift=gather_drift(store),
        retrain=gather_retrain(store),
        swap_failures=swaps,
        champion_change=change,
        pending=gather_pending(store),
    )
