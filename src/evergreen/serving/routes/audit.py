"""``/api/audit``: the audit trail, read-only, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from evergreen.errors import InvalidRequestError
from evergreen.serving.deps import Filter, Limit, ProjectDep, Viewer
from evergreen.serving.routes.schemas import Out, control_router
from evergreen.store.audit import list_actions
from evergreen.store.engine import as_utc

router = control_router()

# An RFC 3339 date-time, as the schema says: pydantic's lax datetime would also take "0" or "1e9"
# (seconds since 1970), which no reader of the schema expects to mean anything.
Since = Annotated[
    str | None,
    Query(
        max_length=40,
        pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?$",
        description="only entries at or after this ISO 8601 date-time (UTC unless it has an offset)",
        json_schema_extra={"format": "date-time"},
    ),
]


def parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        # In UTC here: 0001-01-01T00:00+00:01 is no instant of a year 1 or later (was a 500).
        return as_utc(datetime.fromisoformat(since))
    except (ValueError, OverflowError):  # matches the pattern, names no real instant (month 13, hour 25)
        raise InvalidRequestError(
            f"since: {since!r} is not a date-time (e.g. 2026-03-01T00:00:00Z)", details={"field": "since"}
        ) from None


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
    since: Since = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return list_actions(
        project.store,
        actor=actor,
        action=action,
        target=target,
        since=as_utc(parse_since(since)),
        limit=limit,
    )
