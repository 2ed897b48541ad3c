"""The Monitoring page's charts from stored drift reports (pure: report rows in, charts out).

Reports come newest first from the store; charts run oldest to newest, left to right. Every point
links to its report. Per column the plotted value is Evidently's drift score (a test's p-value, else
the distance) with the column's threshold drawn; the dataset chart is the share of drifted columns
against ``drift_share``; performance is realised and estimated with their bands, the baseline drawn.

A report's ``details`` is read through :func:`readable` first: a row edited by hand (or by a tool)
into a shape the monitoring job never writes keeps what can be read and is marked "details
unreadable", instead of failing the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evergreen.dashboard.charts import Chart, Series, finite

MAX_COLUMNS = 30  # a wide table gets its first columns charted; every column stays in the report
UNREADABLE = "details unreadable"
_METRIC_MAPS = ("realised_metrics", "estimated_metrics", "baseline_metrics")


class _Reader:
    """Reads a stored ``details`` value in the shape the pages use, noting any part that is not."""

    def __init__(self) -> None:
        self.unreadable = False

    def mapping(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.unreadable = True
        return {}

    def number(self, value: Any) -> float | None:
        if value is None:
            return None
        out = finite(value)
        if out is None:
            self.unreadable = True  # text, a list, a bool where a number was written
        return out

    def text(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        self.unreadable = True
        return None


def readable(report: dict[str, Any]) -> dict[str, Any]:
    """The report row with only the parts of ``details`` the pages read, each of the type they expect
    (a part that is not becomes absent), and ``details_unreadable`` saying whether any was not."""
    read = _Reader()
    details = read.mapping(report.get("details"))
    drift = read.mapping(details.get("data_drift"))
    columns = {}
    for name, value in read.mapping(drift.get("columns")).items():
        column = read.mapping(value)
        columns[name] = {
            "method": read.text(column.get("method")),
            **{k: read.number(column.get(k)) for k in ("score", "p_value", "threshold")},
        }
    perf = read.mapping(details.get("performance"))
    performance: dict[str, Any] = {
        key: {m: read.number(v) for m, v in read.mapping(perf.get(key)).items()} for key in _METRIC_MAPS
    }
    performance["metric_bands"] = {
        metric: {
            source: {k: read.number(read.mapping(band).get(k)) for k in ("lower", "upper")}
            for source, band in read.mapping(sources).items()
        }
        for metric, sources in read.mapping(perf.get("metric_bands")).items()
    }
    degraded = perf.get("degraded")
    if degraded is not None and not isinstance(degraded, bool):
        read.unreadable, degraded = True, None
    performance["degraded"] = degraded
    shown_details = {
        "data_drift": {
            "share": read.number(drift.get("share")),
            "drift_share": read.number(drift.get("drift_share")),
            "columns": columns,
        },
        "performance": performance,
    }
    return {**report, "details": shown_details, "details_unreadable": read.unreadable}


@dataclass(frozen=True)
class Plot:
    chart: Chart
    columns: tuple[str, ...]  # the table beside the chart
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class MonitoringView:
    dataset: Plot | None
    prediction: Plot | None
    performance: Plot | None
    columns: tuple[Plot, ...]
    unreadable: tuple[int, ...]  # ids of the reports whose details could not all be read


def _cell(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _labels(reports: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    return tuple((r.get("report_date") or "")[:10] for r in reports)


def _links(reports: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(f"/monitoring/reports/{r['id']}" for r in reports)


def _plot(chart: Chart, reports: Sequence[dict[str, Any]]) -> Plot:
    rows = []
    for i, r in enumerate(reports):
        name = f"#{r['id']} ({UNREADABLE})" if r.get("details_unreadable") else f"#{r['id']}"
        cells = [name, (r.get("report_date") or "")[:16].replace("T", " ")]
        for s in chart.series:
            cells.append(_cell(s.values[i]))
            if s.lower is not None and s.upper is not None:
                low, high = s.lower[i], s.upper[i]
                cells.append(f"{_cell(low)} to {_cell(high)}" if low is not None else "")
        rows.append(tuple(cells))
    columns = ["report", "date"]
    for s in chart.series:
        columns.append(s.name)
        if s.lower is not None:
            columns.append(f"{s.name} band")
    return Plot(chart, tuple(columns), tuple(rows))


def dataset_plot(reports: Sequence[dict[str, Any]]) -> Plot | None:
    drift = [(r.get("details") or {}).get("data_drift") or {} for r in reports]
    shares = tuple(finite(d.get("share")) for d in drift)
    if not any(v is not None for v in shares):
        return None
    threshold = next(
        (finite(d.get("drift_share")) for d in reversed(drift) if finite(d.get("drift_share")) is not None),
        None,
    )
    chart = Chart(
        title="Share of drifted columns",
        labels=_labels(reports),
        series=(Series("drifted share", shares),),
        threshold=threshold,
        threshold_label="drift_share",
        links=_links(reports),
        y_range=(0.0, 1.0),
    )
    return _plot(chart, reports)


def prediction_plot(reports: Sequence[dict[str, Any]]) -> Plot | None:
    scores = tuple(finite(r.get("prediction_drift_score")) for r in reports)
    if not any(v is not None for v in scores):
        return None
    chart = Chart(
        title="Prediction drift score",
        labels=_labels(reports),
        series=(Series("prediction drift", scores),),
        links=_links(reports),
    )
    return _plot(chart, reports)


def performance_plot(reports: Sequence[dict[str, Any]], metric: str) -> Plot | None:
    perf = [(r.get("details") or {}).get("performance") or {} for r in reports]
    series = []
    for source in ("realised", "estimated"):
        values = tuple(finite((p.get(f"{source}_metrics") or {}).get(metric)) for p in perf)
        bands = [((p.get("metric_bands") or {}).get(metric) or {}).get(source) or {} for p in perf]
        series.append(
            Series(
                f"{metric} {source}",
                values,
                lower=tuple(finite(b.get("lower")) for b in bands),
                upper=tuple(finite(b.get("upper")) for b in bands),
                dashed=source == "estimated",
            )
        )
    if not any(v is not None for s in series for v in s.values):
        return None
    baseline = next(
        (
            finite((p.get("baseline_metrics") or {}).get(metric))
            for p in reversed(perf)
            if p.get("baseline_metrics")
        ),
        None,
    )
    chart = Chart(
        title=f"{metric}: realised vs estimated",
        labels=_labels(reports),
        series=tuple(series),
        threshold=baseline,
        threshold_label="baseline",
        links=_links(reports),
    )
    return _plot(chart, reports)


def column_plots(reports: Sequence[dict[str, Any]]) -> tuple[Plot, ...]:
    per_report = [((r.get("details") or {}).get("data_drift") or {}).get("columns") or {} for r in reports]
    names: list[str] = []
    for cols in reversed(per_report):  # the newest report's column order first
        names.extend(n for n in cols if n not in names)
    plots = []
    for name in names[:MAX_COLUMNS]:
        cells = [cols.get(name) or {} for cols in per_report]
        scores = tuple(finite(c.get("score")) for c in cells)
        if not any(v is not None for v in scores):
            continue
        newest = next(c for c in reversed(cells) if finite(c.get("score")) is not None)
        method = newest.get("method") or ""
        chart = Chart(
            title=f"{name} ({method}{', p-value' if newest.get('p_value') is not None else ''})",
            labels=_labels(reports),
            series=(Series(name, scores),),
            threshold=finite(newest.get("threshold")),
            links=_links(reports),
            width=420,
            height=160,
        )
        plots.append(_plot(chart, reports))
    return tuple(plots)


def monitoring_view(reports_newest_first: Sequence[dict[str, Any]], metric: str) -> MonitoringView:
    reports = [readable(r) for r in reversed(reports_newest_first)]
    return MonitoringView(
        dataset=dataset_plot(reports),
        prediction=prediction_plot(reports),
        performance=performance_plot(reports, metric),
        columns=column_plots(reports),
        unreadable=tuple(int(r["id"]) for r in reversed(reports) if r["details_unreadable"]),
    )
