"""The Overview page's model, built from what the store and the registry returned (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evergreen.dashboard.views.runs import RunRow, run_row

LEVELS = ("critical", "alert", "warning", "info")


@dataclass(frozen=True)
class Champion:
    version: str
    since: str  # when it became champion (its newest promote/rollback/approve), ISO
    dataset_version: str
    metric: str
    value: float | None  # the promotion metric on its own holdout, from its decision


@dataclass(frozen=True)
class LivePerformance:
    metric: str
    baseline: float | None
    realised: float | None
    estimated: float | None
    realised_band: tuple[float, float] | None
    estimated_band: tuple[float, float] | None
    degraded: bool | None
    report_id: int
    report_date: str


@dataclass(frozen=True)
class Overview:
    champion: Champion | None
    newest_run: RunRow | None
    open_alerts: tuple[tuple[str, int], ...]  # (level, count), most severe first
    acknowledged_alerts: int
    report: dict[str, Any] | None
    performance: LivePerformance | None
    next_retrain: str | None
    pending_approvals: int


def _band(bands: dict[str, Any], source: str) -> tuple[float, float] | None:
    b = bands.get(source) or {}
    lo, hi = b.get("lower"), b.get("upper")
    return (float(lo), float(hi)) if lo is not None and hi is not None else None


def live_performance(report: dict[str, Any] | None, metric: str) -> LivePerformance | None:
    """The selection metric, realised and estimated with their bands, from a report's details."""
    if report is None:
        return None
    perf = (report.get("details") or {}).get("performance") or {}
    bands = (perf.get("metric_bands") or {}).get(metric) or {}
    realised = (perf.get("realised_metrics") or {}).get(metric)
    estimated = (perf.get("estimated_metrics") or {}).get(metric)
    if realised is None and estimated is None:
        return None
    return LivePerformance(
        metric=metric,
        baseline=(perf.get("baseline_metrics") or {}).get(metric),
        realised=realised,
        estimated=estimated,
        realised_band=_band(bands, "realised"),
        estimated_band=_band(bands, "estimated"),
        degraded=perf.get("degraded"),
        report_id=int(report["id"]),
        report_date=report.get("report_date") or "",
    )


def build_overview(
    *,
    champion: dict[str, Any] | None,
    champion_since: str,
    champion_decision: dict[str, Any] | None,
    metric: str,
    newest_run: dict[str, Any] | None,
    alert_counts: dict[str, dict[str, int]],
    report: dict[str, Any] | None,
    next_retrain: str | None,
    pending_approvals: int,
) -> Overview:
    champ = None
    if champion is not None:
        value = None
        if champion_decision and champion_decision.get("candidate_version") == champion["version"]:
            value = (champion_decision.get("candidate_metrics") or {}).get(metric)
        champ = Champion(
            version=champion["version"],
            since=champion_since,
            dataset_version=champion.get("dataset_version") or "",
            metric=metric,
            value=value,
        )
    opened = alert_counts.get("open", {})
    levels = [lv for lv in LEVELS if lv in opened] + sorted(set(opened) - set(LEVELS))
    return Overview(
        champion=champ,
        newest_run=run_row(newest_run) if newest_run else None,
        open_alerts=tuple((lv, opened[lv]) for lv in levels),
        acknowledged_alerts=sum(alert_counts.get("acknowledged", {}).values()),
        report=report,
        performance=live_performance(report, metric),
        next_retrain=next_retrain,
        pending_approvals=pending_approvals,
    )
