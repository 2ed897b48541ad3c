"""A Prometheus collector of the loop's state: read on scrape, cached for a few seconds.

Two Prometheus servers, a dashboard refresh and a person with curl can all scrape at once; the
metadata database is read at most once per ``ttl_seconds`` whatever the rate, and never on the
request path of ``/predict``. When the database is down the last state read is exported with
``evergreen_metadata_db_up 0``, so the dashboards keep their lines and the alert says why.

Every family carries a ``project`` label: one Prometheus watches many projects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.observability.state import LoopState

log = get_logger(__name__)
Levels = Mapping[str, Mapping[str, float]]  # score → level → threshold (alerts.levels_by_score())


def _ts(t: datetime | None) -> float | None:
    return None if t is None else t.timestamp()


def _version_number(version: str | None) -> float | None:
    try:
        return None if version is None else float(version)
    except ValueError:  # MLflow versions are integers; anything else has no place on a graph
        return None


class _Families:
    """Gauge/counter families with the project label added to every sample."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.out: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, name: str, doc: str, value: float | None, labels: Mapping[str, str] | None = None) -> None:
        labels = labels or {}
        fam = self.out.get(name)
        if fam is None:
            fam = GaugeMetricFamily(name, doc, labels=["project", *labels])
            self.out[name] = fam
        if value is not None:
            fam.add_metric([self.project, *labels.values()], value)

    def count(self, name: str, doc: str, value: float, labels: Mapping[str, str]) -> None:
        fam = self.out.get(name + "_total")
        if fam is None:
            fam = CounterMetricFamily(name, doc, labels=["project", *labels])
            self.out[name + "_total"] = fam
        fam.add_metric([self.project, *labels.values()], value)


def loop_state_families(state: LoopState, project: str, levels: Levels, now: float) -> list[Metric]:
    """The exported families of one state (pure: the same state and clock give the same samples)."""
    f = _Families(project)
    f.add(
        "evergreen_champion_version",
        "Champion model version (MLflow)",
        _version_number(state.champion_version),
    )
    since = _ts(state.champion_since)
    f.add("evergreen_champion_promoted_timestamp_seconds", "When the champion became the champion", since)
    f.add(
        "evergreen_champion_age_seconds",
        "Seconds since the champion was promoted",
        None if since is None else now - since,
    )
    if state.last_decision is not None:
        outcome, at = state.last_decision
        f.add(
            "evergreen_last_decision_timestamp_seconds",
            "Time of the newest decision, labelled with its outcome",
            at.timestamp(),
            {"outcome": outcome},
        )
    else:
        f.add(
            "evergreen_last_decision_timestamp_seconds", "Time of the newest decision", None, {"outcome": ""}
        )
    for outcome, n in sorted(state.decisions.items()):
        f.count("evergreen_decisions", "Decisions recorded, by outcome", n, {"outcome": outcome})
    runs = state.runs
    for status, n in sorted(runs.counts.items()):
        f.count("evergreen_retrain_runs", "Retrain runs recorded, by status", n, {"status": status})
    for status, secs in sorted(runs.last_duration_seconds.items()):
        f.add(
            "evergreen_retrain_last_duration_seconds",
            "Duration of the newest finished run of each status",
            secs,
            {"status": status},
        )
    for status, at in sorted(runs.last_finished.items()):
        f.add(
            "evergreen_retrain_last_finished_timestamp_seconds",
            "End of the newest finished run of each status",
            at.timestamp(),
            {"status": status},
        )
    f.add(
        "evergreen_retrain_consecutive_failures",
        "Failed or abandoned runs since the last run that completed",
        runs.consecutive_failures,
    )
    retrain_exp = _ts(state.retrain_lease_expires)
    f.add(
        "evergreen_retrain_running",
        "1 while a retrain holds the project's lock",
        float(retrain_exp is not None and retrain_exp > now),
    )
    f.add(
        "evergreen_pending_approvals", "Candidates waiting for a person's approval", state.pending_approvals
    )
    _drift(f, state, levels)
    for (level, status), n in sorted(state.alerts.items()):
        f.add(
            "evergreen_alerts",
            "Alerts not resolved, by level and status",
            n,
            {"level": level, "status": status},
        )
    lease = _ts(state.scheduler_lease_expires)
    f.add(
        "evergreen_scheduler_lease_expires_timestamp_seconds",
        "When the scheduler's lease runs out unless renewed",
        lease,
    )
    f.add(
        "evergreen_scheduler_up",
        "1 while a scheduler holds an unexpired lease on the project",
        float(lease is not None and lease > now),
    )
    f.add(
        "evergreen_predictions_last_timestamp_seconds",
        "Time of the newest logged prediction",
        _ts(state.last_prediction_at),
    )
    return list(f.out.values())


def _drift(f: _Families, state: LoopState, levels: Levels) -> None:
    for score, by_level in sorted(levels.items()):
        for level, threshold in sorted(by_level.items()):
            f.add(
                "evergreen_drift_score_level_threshold",
                "Alert level thresholds of each drift score (alerts.levels)",
                threshold,
                {"score": score, "level": level},
            )
    for d in state.drift:
        w = {"window": d.window}
        f.add(
            "evergreen_drift_report_timestamp_seconds",
            "Date of the newest report of the window",
            d.report_date.timestamp(),
            w,
        )
        f.add(
            "evergreen_drift_report_rows",
            "Rows in the newest report's window",
            None if d.rows is None else float(d.rows),
            w,
        )
        f.add("evergreen_drift_share", "Share of input columns that drifted", d.share, w)
        f.add(
            "evergreen_drift_share_threshold",
            "Share of drifted columns that is dataset drift",
            d.share_threshold,
            w,
        )
        f.add("evergreen_drift_detected", "1 when the newest report detected drift", float(d.detected), w)
        if d.tested is not None:
            f.add(
                "evergreen_drift_report_tested",
                "1 when the window had enough rows for a verdict (0: insufficient_data)",
                float(d.tested),
                w,
            )
        if d.multivariate_auc is not None:
            f.add(
                "evergreen_multivariate_drift_auc",
                "Domain-classifier ROC AUC of reference vs current inputs",
                d.multivariate_auc,
                w,
            )
            f.add(
                "evergreen_multivariate_drift_threshold",
                "AUC above which the inputs drifted as a whole",
                d.multivariate_threshold,
                w,
            )
        for score, value in sorted(d.scores.items()):
            f.add("evergreen_drift_score", "The report's drift scores", value, {**w, "score": score})
        for c in d.columns:
            labels = {**w, "column": c.column, "method": c.method}
            f.add(
                "evergreen_column_drift_score",
                "Per-column drift score: p-value of a test or a distance",
                c.score,
                labels,
            )
            f.add(
                "evergreen_column_drift_threshold",
                "Per-column drift threshold of its method",
                c.threshold,
                labels,
            )
            f.add("evergreen_column_drifted", "1 when the column drifted", float(c.drifted), labels)
        if d.performance_metric is None:
            continue
        m = {**w, "metric": d.performance_metric}
        for kind, value in sorted(d.performance.items()):
            f.add(
                "evergreen_performance",
                "Watched metric: baseline, realised, estimated; sigma, lower, upper of each where reported",
                value,
                {**m, "kind": kind},
            )
        f.add(
            "evergreen_performance_drop_threshold",
            "Drop of the metric reported as degraded",
            d.performance_threshold,
            m,
        )
        f.add(
            "evergreen_performance_degraded",
            "1 when the window's performance is degraded",
            float(d.performance_degraded),
            m,
        )


class LoopStateCollector(Collector):
    """Registered in a ``CollectorRegistry``; ``read`` is called at most once per ``ttl_seconds``."""

    def __init__(
        self,
        read: Callable[[], LoopState],
        *,
        project: str,
        levels: Levels,
        ttl_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._read = read
        self.project = project
        self.levels = levels
        self.ttl = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._state: LoopState | None = None
        self._read_at: float | None = None  # monotonic time of the last attempt
        self._read_ok_at: float | None = None  # wall time of the last successful read
        self._up = False
        self._errors = 0

    def describe(self) -> list[Metric]:
        return []  # no read at registration: the app starts without touching the database

    def state(self) -> LoopState | None:
        with self._lock:
            due = self._read_at is None or time.monotonic() - self._read_at >= self.ttl
            if due:
                self._read_at = time.monotonic()
                try:
                    self._state = self._read()
                    self._up, self._read_ok_at = True, self.clock()
                except Exception as exc:  # DB down, schema mid-migration: keep the last state
                    self._up, self._errors = False, self._errors + 1
                    log.warning("loop_state_unreadable", error=one_line(exc))
            return self._state

    def collect(self) -> Iterator[Metric]:
        state = self.state()
        if state is not None:
            yield from loop_state_families(state, self.project, self.levels, self.clock())
        up = GaugeMetricFamily(
            "evergreen_metadata_db_up", "1 when the last state read succeeded", labels=["project"]
        )
        up.add_metric([self.project], float(self._up))
        yield up
        errors = CounterMetricFamily(
            "evergreen_state_read_errors", "State reads that failed", labels=["project"]
        )
        errors.add_metric([self.project], self._errors)
        yield errors
        if self._read_ok_at is not None:
            at = GaugeMetricFamily(
                "evergreen_state_read_timestamp_seconds",
                "When the exported state was read",
                labels=["project"],
            )
            at.add_metric([self.project], self._read_ok_at)
            yield at
