"""``/api/audit``: the audit trail, read-only, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from evergreen.serving.deps import Filter, Limit, ProjectDep, Viewer
from evergreen.serving.routes.schemas import Out
from evergreen.store.audit import list_actions
from evergreen.store.engine import as_utc

router = APIRouter()


class AuditEntry(Out):
    id: int
    actor: str
    action: str
    target: str | None = None
    reason: str | None = None
    before: Any = None
    after: Any = None
    at: str


@router.get("/audit", response_model=list[AuditEntry], summary="The audit trail (read-only), newest first")
def audit(
    project: ProjectDep,
    _: Viewer,
    actor: Filter = None,
    action: Filter = None,
    target: Filter = None,
    since: datetime | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return list_actions(
        project.store, actor=actor, action=action, target=target, since=as_utc(since), limit=limit
    )
