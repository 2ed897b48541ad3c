"""The queue of manual retrain requests (``retrain_requests``).

``POST /api/retrain`` calls :func:`request_retrain`; a running scheduler picks queued requests up
and runs them under the project's retrain lock. Without a scheduler, :func:`submit_retrain` runs the
request right away in the caller, under the same lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from evergreen.project import Project
from evergreen.store.audit import record_action
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.locks import LeaseLock, holder_is_dead
from evergreen.store.tables import retrain_requests
from evergreen.triggers.evaluate import ManualRequest

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def scheduler_lock_name(project: str) -> str:
    return f"scheduler:{project}"


def scheduler_running(store: Store) -> bool:
    """True when a live scheduler holds the project's scheduler lease."""
    state = LeaseLock(store, scheduler_lock_name(store.project)).current()
    return state is not None and not holder_is_dead(state)


def request_retrain(project: Project, reason: str | None, actor: str, *, force: bool = False) -> str:
    """Queue a manual retrain; returns the request id (the scheduler runs it)."""
    rid = uuid.uuid4().hex[:16]
    store = project.store
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


def queued_requests(store: Store) -> tuple[ManualRequest, ...]:
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
        ManualRequest(
            id=r["id"],
            reason=r["reason"],
            actor=r["actor"],
            requested_at=as_utc(r["requested_at"]) or r["requested_at"],
            force=bool(r["force"]),
        )
        for r in rows
    )


def mark_requests(
    store: Store, ids: list[str], status: str, *, run_id: str | None = None, result: str | None = None
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
        values["result"] = result[:4000]
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


def submit_retrain(
    project: Project, reason: str | None, actor: str, *, force: bool = False
) -> dict[str, Any]:
    """Queue for a running scheduler, or run now when none runs (the CLI path)."""
    if scheduler_running(project.store):
        return {"queued": True, "request_id": request_retrain(project, reason, actor, force=force)}
    from evergreen.pipeline import RetrainRequest, RetrainRunner

    outcome = RetrainRunner(project).run(
        RetrainRequest(trigger="manual", reason=reason, actor=actor, force=force)
    )
    return {"queued": False, "outcome": outcome.to_dict()}
