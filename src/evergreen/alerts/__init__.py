"""Alerts: pure rules turn facts into leveled alerts; channels deliver them off the caller's path.

Entry points for the other components:

- :func:`raise_alerts` (``project, facts=None``): after a monitoring pass or a retrain; with no facts,
  every fact is gathered from the store (drift reports, runs, audit rows, pending approvals).
- :func:`report_retrain_failure`: the hook the triggers executor calls when a retrain fails.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

from evergreen.alerts.facts import Facts, RetrainFailure, RetrainState
from evergreen.logs import get_logger

if TYPE_CHECKING:
    from evergreen.alerts.service import AlertChange, AlertService
    from evergreen.project import Project

__all__ = ["Facts", "raise_alerts", "report_retrain_failure", "service_for", "shutdown"]

log = get_logger("evergreen.alerts")
_services: dict[tuple[str, str], AlertService] = {}
_guard = threading.Lock()


def service_for(project: Project) -> AlertService:
    """One service (one delivery thread) per project and database in this process."""
    from evergreen.alerts.service import AlertService

    key = (project.settings.storage.database_url, project.settings.project)
    with _guard:
        svc = _services.get(key)
        if svc is None or svc.project.store is not project.store:
            svc = _services[key] = AlertService(project)
        return svc


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
        log.warning(
            "alert_evaluation_failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        )


@atexit.register
def shutdown(timeout: float = 10.0) -> None:
    """Give queued deliveries a bounded chance to go out before a short-lived process exits."""
    with _guard:
        services = list(_services.values())
        _services.clear()
    for svc in services:
        if not svc.close(timeout):
            log.warning(
                "alert_deliveries_dropped",
                project=svc.project.settings.project,
                pending=svc.dispatcher.pending,
            )
