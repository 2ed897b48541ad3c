"""Gather the facts :func:`evergreen.triggers.evaluate.evaluate` decides on (reads only, no decisions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from evergreen.errors import RegistryError, one_line
from evergreen.logs import get_logger
from evergreen.project import Project
from evergreen.registry import CHAMPION, TAG_PREFIX
from evergreen.store.engine import Store, as_utc
from evergreen.store.requests import queued_requests
from evergreen.store.tables import batches, drift_reports, pipeline_runs
from evergreen.triggers.evaluate import DriftFacts, ManualRequest, PerformanceFacts, TriggerState

log = get_logger("evergreen.triggers")

# The newest runs looked at to find the last attempt's dataset; older ones are never the newest.
_RECENT_RUNS = 50
# Runs that got to a decision (or found nothing new): their data counts as tried. A failed or
# abandoned run does not, so its triggers stay due and the scheduler's retry can pick them up again.
COMPLETED = frozenset({"promoted", "rejected", "pending_approval", "skipped", "approved", "declined"})
RETRAINED = COMPLETED - {"skipped"} | {"running"}


def _max_batch(details: Mapping[str, Any] | None) -> int | None:
    ids = (details or {}).get("batch_ids") or []
    return max(int(i) for i in ids) if ids else None


def _labelled_after(rows: Iterable[Any], after: int | None) -> int:
    return sum(int(r.labelled_rows or 0) for r in rows if after is None or r.id > after)


def champion_batch_ceiling(project: Project) -> tuple[str | None, int | None]:
    """(champion version, newest batch id in the dataset it was trained on)."""
    reg = project.registry
    try:
        version = reg.version_by_alias(CHAMPION)
        run_id = reg.get_version(version).tags.get(TAG_PREFIX + "run_id") if version else None
    except RegistryError as exc:
        # MLflow unreachable: the pass goes on as if no model were known, so a due retrain starts
        # and fails at its first read of the champion, recorded, alerted and retried with backoff
        # (an error here would end the pass before any run or alert exists).
        log.warning("champion_unreadable", error=one_line(exc))
        return None, None
    if version is None:
        return None, None
    if not run_id:
        return version, None
    with project.store.connect() as conn:
        details = conn.execute(select(pipeline_runs.c.details).where(pipeline_runs.c.id == run_id)).scalar()
    return version, _max_batch(details)


def _runs(store: Store) -> list[Any]:
    with store.connect() as conn:
        return list(
            conn.execute(
                select(
                    pipeline_runs.c.trigger,
                    pipeline_runs.c.status,
                    pipeline_runs.c.started_at,
                    pipeline_runs.c.details,
                )
                .where(pipeline_runs.c.project == store.project)
                .order_by(pipeline_runs.c.started_at.desc())
                .limit(_RECENT_RUNS)
            ).all()
        )


def _latest_report(store: Store, window: str) -> Any:
    """The newest drift report, preferring the configured monitoring window when several were made."""
    with store.connect() as conn:
        newest = conn.execute(
            select(func.max(drift_reports.c.report_date)).where(drift_reports.c.project == store.project)
        ).scalar()
        if newest is None:
            return None
        rows = conn.execute(
            select(drift_reports)
            .where(drift_reports.c.project == store.project, drift_reports.c.report_date == newest)
            .order_by(drift_reports.c.id.desc())
        ).all()
    return next((r for r in rows if r.window == window), rows[0])


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def performance_from(report: Any, metric: str | None) -> PerformanceFacts | None:
    """Live (realised) or estimated value of the watched metric, as the monitoring job stores it.

    A report without a verdict (fewer rows than ``monitoring.min_rows``) gives no facts at all.
    """
    details = (report.details or {}) if report is not None else {}
    perf = details.get("performance")
    if not isinstance(perf, Mapping) or details.get("status") == "insufficient_data":
        return None
    if perf.get("verdict") == "insufficient_data":
        return None
    name = perf.get("metric")
    if not name or (metric is not None and name != metric):
        return None
    realised, estimated = perf.get("realised"), perf.get("estimated")
    value = realised if realised is not None else estimated
    if value is None:
        return None
    return PerformanceFacts(
        report_id=int(report.id),
        report_date=as_utc(report.report_date) or report.report_date,
        metric=str(name),
        value=float(value),
        estimated=realised is None,
        sigma=_number(perf.get("sigma")),
        baseline=_number(perf.get("baseline")),
        drop_limit=_number(perf.get("threshold")),
        band_sigmas=float(perf.get("band_sigmas") or 3.0),
    )


def gather_state(
    project: Project, watching_since: datetime, exhausted: frozenset[str] = frozenset()
) -> TriggerState:
    s, store = project.settings, project.store
    version, ceiling = champion_batch_ceiling(project)
    runs = _runs(store)
    attempt = next(
        (m for r in runs if r.status in COMPLETED and (m := _max_batch(r.details)) is not None), None
    )
    scheduled = next((r.started_at for r in runs if r.trigger == "schedule"), None)
    retrained = next((r.started_at for r in runs if r.status in RETRAINED), None)
    attempted = next((r.started_at for r in runs if r.status in COMPLETED or r.status == "running"), None)
    with store.connect() as conn:
        accepted = conn.execute(
            select(batches.c.id, batches.c.labelled_rows).where(
                batches.c.project == store.project, batches.c.status == "accepted"
            )
        ).all()
    report = _latest_report(store, s.monitoring.window)
    drift = None
    if report is not None:
        drift = DriftFacts(
            report_id=int(report.id),
            report_date=as_utc(report.report_date) or report.report_date,
            share=report.data_drift_score,
            drift_detected=bool(report.drift_detected),  # NULL (no verdict) has share NULL too
        )
    return TriggerState(
        watching_since=watching_since,
        last_scheduled_run=as_utc(scheduled),
        last_retrain=as_utc(retrained),
        last_attempt=as_utc(attempted),
        champion_version=version,
        rows_since_champion=_labelled_after(accepted, ceiling),
        rows_since_last_attempt=_labelled_after(accepted, attempt),
        newest_batch_id=max((int(r.id) for r in accepted), default=None),
        drift=drift,
        performance=performance_from(report, s.triggers.performance.metric),
        manual=tuple(
            ManualRequest(r.id, r.reason, r.actor, r.requested_at, r.force) for r in queued_requests(store)
        ),
        exhausted_causes=exhausted,
    )
