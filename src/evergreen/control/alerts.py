"""Alert actions: acknowledge, resolve by hand, and :func:`after_action` (alerts follow an action)."""

from __future__ import annotations

from typing import Any

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.project import Project

log = get_logger(__name__)


def after_action(project: Project) -> None:
    """Let the alerts follow an action (a promotion is an info alert, an approval clears its waiting one).

    Never raises: an alerting problem must not fail an action that already happened.
    """
    try:
        from evergreen.alerts import raise_alerts

        raise_alerts(project)
    except Exception as exc:  # logged, never raised: the action itself is done and recorded
        log.warning("alert_evaluation_failed", error=one_line(exc))


def acknowledge_alert(
    project: Project, alert_id: int, *, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Acknowledge an open alert (audited); returns the alert row. ConflictError if it cannot be."""
    from evergreen.alerts import service_for

    return service_for(project).acknowledge(alert_id, actor=actor, reason=reason)


def resolve_alert(
    project: Project, alert_id: int, *, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Resolve an alert by hand (audited); returns the alert row. ConflictError if it cannot be."""
    from evergreen.alerts import service_for

    return service_for(project).resolve(alert_id, actor=actor, reason=reason)


def note_alert(
    project: Project, alert_id: int, *, actor: str, decision: str, reason: str | None = None
) -> dict[str, Any]:
    """Record what a person decided about an alert without changing it (``investigating``: do nothing yet).

    The alert stays as it is; the audit trail gets ``alert_<decision>`` on ``alert:<id>``, so History
    shows the alert, the decision and who took it. NotFoundError for an unknown alert.
    """
    from evergreen.alerts.repository import get_alert
    from evergreen.store.audit import record_action

    row = get_alert(project.store, alert_id)
    record_action(
        project.store,
        actor=actor,
        action=f"alert_{decision}",
        target=f"alert:{alert_id}",
        reason=reason,
        before={"status": row["status"]},
        after={"status": row["status"]},
    )
    return row
