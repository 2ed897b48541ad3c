"""Queries on ``pipeline_runs`` and ``decisions``."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update

from evergreen.errors import NotFoundError
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.locks import HOST, pid_alive
from evergreen.store.tables import decisions, pipeline_runs

RUNNING = "running"
# Every status a run row can hold: the outcomes of a finished run, and running / failed / abandoned.
RUN_STATUSES = (
    RUNNING,
    "promoted",
    "rejected",
    "pending_approval",
    "approved",
    "skipped",
    "failed",
    "abandoned",
)


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def create_run(
    store: Store,
    *,
    trigger: str,
    reason: str | None,
    actor: str | None,
    run_id: str | None = None,
    orchestrated: bool = False,
) -> str:
    """A ``running`` run owned by this process (its pid and host: :func:`mark_abandoned` reads them),
    or, ``orchestrated``, by no process: an orchestrator's tasks carry it on, each in its own."""
    rid = run_id or new_run_id()
    with store.begin() as conn:
        conn.execute(
            insert(pipeline_runs).values(
                id=rid,
                project=store.project,
                trigger=trigger,
                reason=store.redact(reason) if reason else reason,
                actor=actor,
                status=RUNNING,
                step="start",
                started_at=utcnow(),
                timings={},
                pid=None if orchestrated else os.getpid(),
                host=None if orchestrated else HOST,
            )
        )
    return rid


_MESSAGES = ("error", "reason", "details")  # what a run row says in words: passes the redactor


def update_run(store: Store, run_id: str, **values: Any) -> None:
    values = {k: store.redact.value(v) if k in _MESSAGES else v for k, v in values.items()}
    with store.begin() as conn:
        conn.execute(update(pipeline_runs).where(pipeline_runs.c.id == run_id).values(**values))


def finish_run(store: Store, run_id: str, status: str, **values: Any) -> None:
    update_run(store, run_id, status=status, finished_at=utcnow(), **values)


def error_parts(error: str | None) -> tuple[str, str]:
    """A run's stored error as (the one line a person reads, the traceback kept after it).

    A failed run stores ``code: message`` and, on the lines after it, the traceback (for whoever
    investigates: ``--json``, the API, the dashboard's run page behind a disclosure).
    """
    line, _, rest = (error or "").partition("\n")
    return line, rest.strip("\n")


def _row(r: Any) -> dict[str, Any]:
    d = dict(r)
    for k in ("started_at", "finished_at", "created_at"):
        if k in d and isinstance(d[k], datetime):
            d[k] = as_utc(d[k]).isoformat()  # type: ignore[union-attr]
    return d


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    with store.connect() as conn:
        r = (
            conn.execute(
                select(pipeline_runs).where(
                    pipeline_runs.c.id == run_id, pipeline_runs.c.project == store.project
                )
            )
            .mappings()
            .first()
        )
        if r is None:
            raise NotFoundError(f"run {run_id} not found", details={"run_id": run_id})
        out = _row(r)
        d = (
            conn.execute(select(decisions).where(decisions.c.run_id == run_id).order_by(decisions.c.id))
            .mappings()
            .all()
        )
    out["decisions"] = [_row(x) for x in d]
    return out


def list_runs(store: Store, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    q = select(pipeline_runs).where(pipeline_runs.c.project == store.project)
    if status:
        q = q.where(pipeline_runs.c.status == status)
    q = q.order_by(pipeline_runs.c.started_at.desc()).limit(limit)
    with store.connect() as conn:
        return [_row(r) for r in conn.execute(q).mappings().all()]


def mark_abandoned(store: Store, *, lock_free: bool) -> list[str]:
    """Mark runs left ``running`` by a dead process as ``abandoned``; return their ids.

    A run is dead when its process is gone from this host, or, for another host or an orchestrated
    run (no process of its own), when the lock is free (its lease expired), since a live holder
    would still be holding it. So is a run of this very process when the lock is free: a run this
    process still carries out holds the lock, so this one ended without its row being finished (the
    database was down when its failure was to be written) and the process went on (the scheduler,
    ``serve``); it would read "running" until that process restarted.

    ``lock_free`` is a fact only while the caller holds the retrain lock itself (it took it over from
    any holder before it): a reading of the lock as free is no proof (see ``Scheduler``'s start).
    """
    with store.connect() as conn:
        rows = conn.execute(
            select(pipeline_runs.c.id, pipeline_runs.c.pid, pipeline_runs.c.host).where(
                and_(pipeline_runs.c.project == store.project, pipeline_runs.c.status == RUNNING)
            )
        ).all()
    me = os.getpid()
    dead = [
        r.id
        for r in rows
        if (r.host == HOST and (not pid_alive(r.pid) or (lock_free and r.pid == me)))
        or (r.host != HOST and lock_free)
    ]
    for rid in dead:
        finish_run(store, rid, "abandoned", error="the process running it stopped before it finished")
    return dead


def record_decision(store: Store, run_id: str | None, *, actor: str = "system", **values: Any) -> int:
    values = {k: store.redact.value(v) if k in ("justification", "checks") else v for k, v in values.items()}
    with store.begin() as conn:
        res = conn.execute(
            insert(decisions).values(
                project=store.project, run_id=run_id, actor=actor, created_at=utcnow(), **values
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]
