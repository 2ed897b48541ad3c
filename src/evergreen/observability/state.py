"""The loop's state as Prometheus sees it, read from the metadata database in a few small queries.

:func:`read_loop_state` does the I/O (a dozen indexed queries, each bounded by ``LIMIT`` or a
``GROUP BY``); the functions it calls to make sense of the rows are pure and tested with exact
values. Everything comes from the metadata DB, never from MLflow: a scrape must stay cheap and must
not fail because the tracking server is slow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import DateTime, Executable, func, select, text

from evergreen.store.engine import Store, as_utc
from evergreen.store.tables import alert_actions, alerts, decisions, drift_reports, locks, pipeline_runs
from evergreen.store.tables import predictions as predictions_table

AlertStatus = Literal["open", "acknowledged"]
ALERT_LEVELS = ("info", "warning", "alert", "critical")
ALERT_STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged")
RUN_FAILED = frozenset({"failed", "abandoned"})
# A run that ended without training (nothing new, cooling down) says nothing about retrain health.
RUN_NEUTRAL = frozenset({"running", "skipped"})


@dataclass(frozen=True)
class ColumnDriftState:
    column: str
    method: str
    score: float  # a test's p-value (drift below the threshold) or a distance (drift above it)
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftState:
    """The newest report of one monitoring window."""

    window: str
    report_date: datetime
    rows: int | None
    share: float | None  # share of input columns that drifted
    share_threshold: float | None  # dataset drift at or above this share
    detected: bool
    scores: Mapping[str, float]  # data_drift_score, prediction_drift_score, performance_drift_score
    columns: tuple[ColumnDriftState, ...]
    performance_metric: str | None
    performance: Mapping[str, float]  # realised, estimated, baseline, band/sigma values when present
    performance_threshold: float | None  # the drop reported as degraded
    performance_degraded: bool
    tested: bool | None = None  # False: too few rows for a verdict; None: a report older than the status
    multivariate_auc: float | None = None  # domain classifier ROC AUC, and its threshold
    multivariate_threshold: float | None = None


@dataclass(frozen=True)
class RunsState:
    counts: Mapping[str, int]  # every run ever, by status
    last_duration_seconds: Mapping[str, float]  # newest finished run of each status
    last_finished: Mapping[str, datetime]
    consecutive_failures: int  # failed/abandoned runs since the last one that completed


@dataclass(frozen=True)
class LoopState:
    champion_version: str | None
    champion_since: datetime | None
    last_decision: tuple[str, datetime] | None  # outcome, when
    decisions: Mapping[str, int]
    runs: RunsState
    drift: tuple[DriftState, ...]
    alerts: Mapping[tuple[str, str], int]  # (level, status) → count, every pair present
    scheduler_lease_expires: datetime | None  # the running scheduler renews it; None: no scheduler
    retrain_lease_expires: datetime | None  # None: no retrain holds the lock
    last_prediction_at: datetime | None
    pending_approvals: int = 0


# ---- pure helpers ---------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def champion_from_actions(rows: Iterable[Mapping[str, Any]]) -> tuple[str | None, datetime | None]:
    """The current champion and when it became one, from audit rows newest first.

    Every action that touches the champion records ``before``/``after`` ``{"champion": v}``; a
    rejection records the unchanged one. The champion is the newest ``after``; its time is the
    newest row that moved the alias to it (or the oldest row seen that names it, when the move is
    older than the rows read).
    """
    current: str | None = None
    since: datetime | None = None
    found = False
    for row in rows:
        after, before = row.get("after"), row.get("before")
        if not isinstance(after, Mapping) or "champion" not in after:
            continue
        version = None if after["champion"] is None else str(after["champion"])
        if not found:
            current, found = version, True
        if version != current:
            break
        since = as_utc(row["at"])
        prior = before.get("champion") if isinstance(before, Mapping) else None
        if prior is None or str(prior) != current:
            break
    return current, since if current is not None else None


def consecutive_failures(statuses_newest_first: Iterable[str]) -> int:
    """Failed or abandoned runs since the newest run that completed (skipped/running runs ignored)."""
    n = 0
    for status in statuses_newest_first:
        if status in RUN_NEUTRAL:
            continue
        if status not in RUN_FAILED:
            break
        n += 1
    return n


def runs_state(counts: Mapping[str, int], recent: Sequence[Mapping[str, Any]]) -> RunsState:
    """``recent``: runs newest first with ``status``, ``started_at``, ``finished_at``."""
    durations: dict[str, float] = {}
    finished: dict[str, datetime] = {}
    for r in recent:
        start, end = as_utc(r["started_at"]), as_utc(r["finished_at"])
        if end is None or r["status"] in finished:
            continue
        finished[r["status"]] = end
        if start is not None:
            durations[r["status"]] = max((end - start).total_seconds(), 0.0)
    return RunsState(
        counts=dict(counts),
        last_duration_seconds=durations,
        last_finished=finished,
        consecutive_failures=consecutive_failures(r["status"] for r in recent),
    )


def performance_values(perf: Mapping[str, Any]) -> dict[str, float]:
    """The watched metric's finite values: ``baseline``, ``realised``, ``estimated`` and, where the
    report has them (``metric_bands``), each one's ``_sigma``, ``_lower`` and ``_upper`` (the band
    value +- ``monitoring.band_sigmas`` times sigma)."""
    out: dict[str, float] = {}
    for kind in ("baseline", "realised", "estimated"):
        v = _finite(perf.get(kind))
        if v is not None:
            out[kind] = v
    bands = perf.get("metric_bands")
    metric_bands = bands.get(perf.get("metric")) if isinstance(bands, Mapping) else None
    if isinstance(metric_bands, Mapping):
        for source in ("realised", "estimated"):
            b = metric_bands.get(source)
            if not isinstance(b, Mapping):
                continue
            for part in ("sigma", "lower", "upper"):
                v = _finite(b.get(part))
                if v is not None:
                    out[f"{source}_{part}"] = v
    return out


def drift_state(row: Mapping[str, Any]) -> DriftState:
    """One ``drift_reports`` row as exported values; a details JSON of any age is read defensively."""
    details = row.get("details") if isinstance(row.get("details"), Mapping) else {}
    assert isinstance(details, Mapping)
    data = details.get("data_drift") if isinstance(details.get("data_drift"), Mapping) else {}
    assert isinstance(data, Mapping)
    columns = []
    raw_columns = data.get("columns") if isinstance(data.get("columns"), Mapping) else {}
    assert isinstance(raw_columns, Mapping)
    for name, c in sorted(raw_columns.items()):
        if not isinstance(c, Mapping):
            continue
        score, threshold = _finite(c.get("score")), _finite(c.get("threshold"))
        if score is None or threshold is None:
            continue  # a non-finite statistic is stored as null: its verdict is in "drifted"
        columns.append(
            ColumnDriftState(str(name), str(c.get("method", "")), score, threshold, bool(c.get("drifted")))
        )
    perf = details.get("performance") if isinstance(details.get("performance"), Mapping) else {}
    assert isinstance(perf, Mapping)
    multi = (
        details.get("multivariate_drift") if isinstance(details.get("multivariate_drift"), Mapping) else {}
    )
    assert isinstance(multi, Mapping)
    scores = {
        k: v
        for k in ("data_drift_score", "prediction_drift_score", "performance_drift_score")
        if (v := _finite(row.get(k))) is not None
    }
    report_date = as_utc(row["report_date"])
    assert report_date is not None  # the column is NOT NULL
    metric = perf.get("metric")
    return DriftState(
        window=str(row.get("window") or ""),
        report_date=report_date,
        rows=row.get("current_rows"),
        share=_finite(data.get("share")),
        share_threshold=_finite(data.get("drift_share")),
        detected=bool(row.get("drift_detected")),
        scores=scores,
        columns=tuple(columns),
        performance_metric=str(metric) if metric else None,
        performance=performance_values(perf),
        performance_threshold=_finite(perf.get("threshold")),
        performance_degraded=bool(perf.get("degraded")),
        tested=None if "status" not in details else details["status"] == "tested",
        multivariate_auc=_finite(multi.get("auc")),
        multivariate_threshold=_finite(multi.get("threshold")),
    )


def alert_counts(rows: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    """``(level, status, n)`` rows as a full table: every (level, status) pair present, zero when none."""
    out: dict[tuple[str, str], int] = {(lv, st): 0 for lv in ALERT_LEVELS for st in ALERT_STATUSES}
    for level, status, n in rows:
        if status in ALERT_STATUSES:
            out[(level, status)] = out.get((level, status), 0) + int(n)
    return out


# ---- I/O ------------------------------------------------------------------------------------------


def _newest_prediction(project: str, dialect: str) -> Executable:
    """The newest prediction of the project, walking the created_at index backwards.

    SQLite's planner picks the (project, model_version) index instead and reads every row of the
    project (150 ms at 200 000 rows); SQLAlchemy renders no index hint for SQLite, so it is named here.
    """
    t = predictions_table
    if dialect == "sqlite":
        return (
            text(
                f"SELECT created_at FROM {t.name} INDEXED BY ix_{t.name}_created_at "
                "WHERE project = :project ORDER BY created_at DESC LIMIT 1"
            )
            .bindparams(project=project)
            .columns(created_at=DateTime(timezone=True))
        )
    return select(t.c.created_at).where(t.c.project == project).order_by(t.c.created_at.desc()).limit(1)


def read_loop_state(
    store: Store, windows: Sequence[str], *, retrain_lock: str, scheduler_lock: str
) -> LoopState:
    """Read everything the exporters need; raises :class:`~evergreen.errors.StoreError` when down."""
    p = store.project
    with store.connect() as conn:
        action_rows = (
            conn.execute(
                select(alert_actions.c.before, alert_actions.c.after, alert_actions.c.at)
                .where(alert_actions.c.project == p, alert_actions.c.action.not_like("alert_%"))
                .order_by(alert_actions.c.at.desc(), alert_actions.c.id.desc())
                .limit(200)
            )
            .mappings()
            .all()
        )
        decision_counts: dict[str, int] = dict(
            conn.execute(
                select(decisions.c.outcome, func.count())
                .where(decisions.c.project == p)
                .group_by(decisions.c.outcome)
            ).all()
        )
        last = conn.execute(
            select(decisions.c.outcome, decisions.c.created_at)
            .where(decisions.c.project == p)
            .order_by(decisions.c.created_at.desc(), decisions.c.id.desc())
            .limit(1)
        ).first()
        run_counts: dict[str, int] = dict(
            conn.execute(
                select(pipeline_runs.c.status, func.count())
                .where(pipeline_runs.c.project == p)
                .group_by(pipeline_runs.c.status)
            ).all()
        )
        recent_runs = (
            conn.execute(
                select(pipeline_runs.c.status, pipeline_runs.c.started_at, pipeline_runs.c.finished_at)
                .where(pipeline_runs.c.project == p)
                .order_by(pipeline_runs.c.started_at.desc())
                .limit(50)
            )
            .mappings()
            .all()
        )
        reports = []
        for w in windows:
            row = (
                conn.execute(
                    select(drift_reports)
                    .where(drift_reports.c.project == p, drift_reports.c.window == w)
                    .order_by(drift_reports.c.report_date.desc(), drift_reports.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if row is not None:
                reports.append(drift_state(dict(row)))
        alert_rows = conn.execute(
            select(alerts.c.level, alerts.c.status, func.count())
            .where(alerts.c.project == p, alerts.c.status.in_(ALERT_STATUSES))
            .group_by(alerts.c.level, alerts.c.status)
        ).all()
        lock_rows = dict(
            conn.execute(
                select(locks.c.name, locks.c.expires_at).where(
                    locks.c.name.in_((retrain_lock, scheduler_lock))
                )
            ).all()
        )
        last_prediction = conn.execute(_newest_prediction(p, conn.dialect.name)).scalar()
    version, since = champion_from_actions(dict(r) for r in action_rows)
    return LoopState(
        champion_version=version,
        champion_since=since,
        last_decision=None if last is None else (str(last[0]), as_utc(last[1])),  # type: ignore[arg-type]
        decisions={str(k): int(v) for k, v in decision_counts.items()},
        runs=runs_state({str(k): int(v) for k, v in run_counts.items()}, [dict(r) for r in recent_runs]),
        drift=tuple(reports),
        alerts=alert_counts((str(lv), str(st), int(n)) for lv, st, n in alert_rows),
        scheduler_lease_expires=as_utc(lock_rows.get(scheduler_lock)),
        retrain_lease_expires=as_utc(lock_rows.get(retrain_lock)),
        last_prediction_at=as_utc(last_prediction),
        pending_approvals=int(run_counts.get("pending_approval", 0)),
    )
