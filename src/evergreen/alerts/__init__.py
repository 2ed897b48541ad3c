"""Alerts: pure rules turn facts into leveled alerts; channels deliver them off the caller's path.

Entry points for the other components:

- :func:`raise_alerts` (``project, facts=None``): after a monitoring pass or a retrain; with no facts,
  every fact is gathered from the store (drift reports, runs, audit rows, pending approvals).
- :func:`report_retrain_failure`: the hook the triggers executor calls when a retrain fails.
- :func:`service_for`: the project's one :class:`~evergreen.alerts.service.AlertService` (one delivery
  thread). The project owns it: ``project.close()`` flushes its queued deliveries, so whoever opened
  the project (the CLI command, the app, the scheduler) decides when they must have gone out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evergreen.alerts.facts import Facts, RetrainFailure, RetrainState
from evergreen.errors import one_line
from evergreen.logs import get_logger

if TYPE_CHECKING:
    from evergreen.alerts.service import AlertChange, AlertService
    from evergreen.project import Project

__all__ = ["Facts", "raise_alerts", "report_retrain_failure", "service_for"]

log = get_logger("evergreen.alerts")


def service_for(project: Project) -> AlertService:
    """The project's alert service (one delivery thread), made on first use; ``project.close()`` ends it."""
    from evergreen.alerts.service import AlertService

    return project.service("alerts", lambda: AlertService(project))


def raise_alerts(project: Project, facts: Facts | None = None) -> list[AlertChange]:
    svc = service_for(project)
    return svc.evaluate() if facts is None else svc.raise_alerts(facts)


def report_retrain_failure(project: Project, details: dict[str, Any]) -> None:
    """Called by the triggers executor when a retrain fails (before its audit row is written)."""
    from evergreen.store.engine import utcnow

    run_id = details.get("run_id")
    key = f"run:{run_id}" if run_id else f"exec:{details.get('attempts')}:{utcnow().isoformat()}"
    failure = RetrainFailure(
        key, "failed", run_id, str(details.get("error") or "retrain failed")[:500], utcnow().isoformat()
    )
    try:
        raise_alerts(project, Facts(retrain=RetrainState(failure)))
    except Exception as exc:  # alerting must never hide, or add to, the failure it reports
        log.warning("alert_evaluation_failed", error=one_line(exc))
