"""The queue of manual retrain requests (``retrain_requests``) and who will serve it.

A human action (:func:`evergreen.control.request_retrain`) queues a request when a scheduler holds
the project's ``scheduler:<project>`` lease (:func:`scheduler_running`); the scheduler reads the
queue as a trigger, and the run that serves a request marks it running, done or failed here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select, update

from evergreen.store.audit import record_action
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.locks import LeaseLock, holder_is_dead
from evergreen.store.tables import retrain_requests

RequestStatus = Literal["queued", "running", "done", "failed"]
QUEUED: RequestStatus = "queued"
RUNNING: RequestStatus = "running"
DONE: RequestStatus = "done"
FAILED: RequestStatus = "failed"


def scheduler_lock_name(project: str) -> str:
    return f"scheduler:{project}"


def scheduler_running(store: Store) -> bool:
    """True when a live scheduler holds the project's scheduler lease."""
    state = LeaseLock(store, scheduler_lock_name(store.project)).current()
    return state is not None and not holder_is_dead(state)


def enqueue_retrain(store: Store, reason: str | None, actor: str, *, force: bool = False) -> str:
    """Queue a manual retrain for the scheduler (audited); returns the request id."""
    rid = uuid.uuid4().hex[:16]
    with store.begin() as conn:
        conn.execute(
            insert(retrain_requests).values(
                id=rid,
                project=store.project,
                reason=reason,
                actor=actor,
                force=force,
                status=QUEUED,
                requested_at=utcnow(),
            )
        )
    record_action(
        store,
        actor=actor,
        action="retrain_requested",
        target=f"request:{rid}",
        reason=reason,
        after={"request_id": rid, "force": force},
    )
    return rid


@dataclass(frozen=True)
class QueuedRequest:
    id: str
    reason: str | None
    actor: str | None
    requested_at: datetime
    force: bool = False


def queued_requests(store: Store) -> tuple[QueuedRequest, ...]:
    """The requests still waiting, oldest first."""
    with store.connect() as conn:
        rows = (
            conn.execute(
                select(retrain_requests)
                .where(retrain_requests.c.project == store.project, retrain_requests.c.status == QUEUED)
                .order_by(retrain_requests.c.requested_at, retrain_requests.c.id)
            )
            .mappings()
            .all()
        )
    return tuple(
        QueuedRequest(
            id=r["id"],
            reason=r["reason"],
            actor=r["actor"],
            requested_at=as_utc(r["requested_at"]) or r["requested_at"],
            force=bool(r["force"]),
        )
        for r in rows
    )


def mark_requests(
    store: Store,
    ids: list[str],
    status: RequestStatus,
    *,
    run_id: str | None = None,
    result: str | None = None,
) -> None:
    if not ids:
        return
    now = utcnow()
    values: dict[str, Any] = {"status": status}
    if status == RUNNING:
        values["started_at"] = now
    else:
        values["finished_at"] = now
    if run_id is not None:
        values["run_id"] = run_id
    if result is not None:
        values["result"] = store.redact(result)[:4000]
    with store.begin() as conn:
        conn.execute(update(retrain_requests).where(retrain_requests.c.id.in_(ids)).values(**values))


def requeue_orphans(store: Store) -> list[str]:
    """Requests left ``running`` by a scheduler that died go back to the queue (called at start)."""
    with store.begin() as conn:
        rows = conn.execute(
            select(retrain_requests.c.id).where(
                retrain_requests.c.project == store.project, retrain_requests.c.status == RUNNING
            )
        ).all()
        ids = [r.id for r in rows]
        if ids:
            conn.execute(
                update(retrain_requests)
                .where(retrain_requests.c.id.in_(ids))
                .values(status=QUEUED, started_at=None)
            )
    return ids


@dataclass(frozen=True)
class RequestInfo:
    id: str
    status: str
    run_id: str | None
    result: str | None
    requested_at: datetime


def get_request(store: Store, request_id: str) -> RequestInfo | None:
    with store.connect() as conn:
        r = (
            conn.execute(select(retrain_requests).where(retrain_requests.c.id == request_id))
            .mappings()
            .first()
        )
    if r is None:
        return None
    return RequestInfo(
        r["id"], r["status"], r["run_id"], r["result"], as_utc(r["requested_at"]) or r["requested_at"]
    )
