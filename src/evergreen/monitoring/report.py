"""A monitoring report as data: the ``drift_reports`` row, strict JSON and the HTML retention.

The JSON is strict (no NaN or infinity, which PostgreSQL's JSON, browsers and most parsers refuse):
a non-finite number, such as the chi-square statistic of a category the reference never saw, is
stored as ``null`` next to the verdict, which still says what happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update

from evergreen.evaluation.bands import band
from evergreen.monitoring.drift import INSUFFICIENT, DriftReport
from evergreen.monitoring.multivariate import MultivariateDriftResult
from evergreen.monitoring.performance import PerformanceCheck
from evergreen.store.engine import Store, as_utc
from evergreen.store.tables import drift_reports


def strict_json(value: Any) -> Any:
    """``value`` with numpy scalars unwrapped, tuples as lists and non-finite floats as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [strict_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass
class MonitoringReport:
    project: str
    window: str  # "7d", "24h", "batch:12"
    report_date: datetime
    window_start: datetime | None
    window_end: datetime | None
    model_version: str
    dataset_version: str
    reference_rows: int
    current_rows: int
    data_drift: DriftReport
    prediction_drift: DriftReport | None
    performance: PerformanceCheck
    baseline_metrics: dict[str, float]
    realised_metrics: dict[str, float]
    estimated_metrics: dict[str, float]
    multivariate_drift: MultivariateDriftResult | None = None
    sigmas: dict[str, dict[str, float]] = field(default_factory=dict)  # realised | estimated -> sigma
    min_rows: int = 0
    skipped_columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Per column, the values the comparison read as missing and why (counts, never values): the
    # contract refuses them or they are not numbers. The alert rules tell a person about them.
    invalid_inputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    id: int | None = None
    html_path: str | None = None

    @property
    def insufficient(self) -> bool:
        """Fewer rows than ``monitoring.min_rows``: no verdict on anything."""
        return self.data_drift.insufficient

    @property
    def data_drift_score(self) -> float | None:
        return self.data_drift.score

    @property
    def prediction_drift_score(self) -> float | None:
        return None if self.prediction_drift is None else self.prediction_drift.score

    @property
    def prediction_drift_detected(self) -> bool:
        """Any drifted prediction column: the outputs are few and each one matters."""
        return self.prediction_drift is not None and bool(self.prediction_drift.number_of_drifted_columns)

    @property
    def multivariate_drift_detected(self) -> bool:
        return self.multivariate_drift is not None and self.multivariate_drift.drifted

    @property
    def drift_detected(self) -> bool | None:
        """None: too few rows for a verdict (stored as NULL)."""
        if self.insufficient:
            return None
        return bool(
            self.data_drift.dataset_drift
            or self.prediction_drift_detected
            or self.multivariate_drift_detected
            or self.performance.degraded
        )

    def metric_bands(self) -> dict[str, dict[str, Any]]:
        """Per metric: the realised and estimated value with its sigma and band (value +- k*sigma)."""
        k = self.performance.band_sigmas
        out: dict[str, dict[str, Any]] = {}
        for source, values in (("realised", self.realised_metrics), ("estimated", self.estimated_metrics)):
            for name, value in values.items():
                s = self.sigmas.get(source, {}).get(name)
                b = band(value, s, k, name)
                out.setdefault(name, {})[source] = {
                    "value": value,
                    "sigma": s,
                    "lower": b.lower,
                    "upper": b.upper,
                }
        return dict(sorted(out.items()))

    def details(self) -> dict[str, Any]:
        """The ``details`` JSON of the row: every column's method, statistic, p-value, threshold, verdict."""
        return strict_json(
            {
                "window": {"name": self.window, "start": self.window_start, "end": self.window_end},
                "reference": {
                    "model_version": self.model_version,
                    "dataset_version": self.dataset_version,
                    "rows": self.reference_rows,
                },
                "current_rows": self.current_rows,
                "min_rows": self.min_rows,
                "status": INSUFFICIENT if self.insufficient else "tested",
                "data_drift": self.data_drift.to_dict(),
                "multivariate_drift": None
                if self.multivariate_drift is None
                else self.multivariate_drift.to_dict(),
                "prediction_drift": None
                if self.prediction_drift is None
                else {
                    **self.prediction_drift.to_dict(),
                    "detected": None
                    if self.prediction_drift.insufficient
                    else self.prediction_drift_detected,
                },
                "performance": {
                    **self.performance.to_dict(),
                    "baseline_metrics": self.baseline_metrics,
                    "realised_metrics": self.realised_metrics,
                    "estimated_metrics": self.estimated_metrics,
                    "metric_bands": self.metric_bands(),
                },
                "skipped_columns": self.skipped_columns,
                "invalid_inputs": self.invalid_inputs,
                "notes": self.notes,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = strict_json(
            {
                "id": self.id,
                "project": self.project,
                "report_date": self.report_date,
                "model_version": self.model_version,
                "data_drift_score": self.data_drift_score,
                "prediction_drift_score": self.prediction_drift_score,
                "performance_drift_score": self.performance.score,
                "drift_detected": self.drift_detected,
                "html_path": self.html_path,
            }
        )
        out["details"] = self.details()
        return out


def save_report(store: Store, report: MonitoringReport) -> int:
    with store.begin() as conn:
        result = conn.execute(
            insert(drift_reports).values(
                project=store.project,
                report_date=report.report_date,
                window=report.window,
                window_start=report.window_start,
                window_end=report.window_end,
                current_rows=report.current_rows,
                model_version=report.model_version,
                data_drift_score=strict_json(report.data_drift_score),
                prediction_drift_score=strict_json(report.prediction_drift_score),
                performance_drift_score=strict_json(report.performance.score),
                drift_detected=report.drift_detected,
                details=report.details(),
            )
        )
    key = result.inserted_primary_key
    assert key is not None  # INSERT always has one
    report.id = int(key[0])
    return report.id


def set_html_path(store: Store, report_id: int, path: Path) -> None:
    with store.begin() as conn:
        conn.execute(update(drift_reports).where(drift_reports.c.id == report_id).values(html_path=str(path)))


def prune_html(store: Store, keep: int) -> list[str]:
    """Delete the HTML files of all but the newest ``keep`` reports; their rows stay, path cleared."""
    t = drift_reports
    with store.begin() as conn:
        old = conn.execute(
            select(t.c.id, t.c.html_path)
            .where(t.c.project == store.project, t.c.html_path.is_not(None))
            .order_by(t.c.report_date.desc(), t.c.id.desc())
            .offset(keep)
        ).all()
        for row in old:
            Path(row.html_path).unlink(missing_ok=True)
        if old:
            conn.execute(update(t).where(t.c.id.in_([r.id for r in old])).values(html_path=None))
    return [r.html_path for r in old]


def list_reports(store: Store, limit: int = 50, window: str | None = None) -> list[dict[str, Any]]:
    """Stored reports, newest first (what the dashboard and ``/api/drift`` read)."""
    t = drift_reports
    q = select(t).where(t.c.project == store.project)
    if window is not None:
        q = q.where(t.c.window == window)
    with store.connect() as conn:
        rows = conn.execute(q.order_by(t.c.report_date.desc(), t.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        for k in ("report_date", "window_start", "window_end"):
            d[k] = None if d[k] is None else as_utc(d[k]).isoformat()  # type: ignore[union-attr]
        out.append(d)
    return out
