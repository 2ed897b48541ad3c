"""The self-contained HTML report: summary table, performance panel, one inline SVG per column.

No script, stylesheet, font or image is fetched from anywhere: the file is read offline, attached to
tickets and kept for months, so everything it shows is inside it. Every value that comes from data
is escaped. Plot data (``column_plots``) is computed from the frames with numpy, apart from drawing.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evergreen.monitoring.drift import ColumnDrift, DriftReport, Kind
from evergreen.monitoring.report import MonitoringReport

MAX_BINS = 20
MAX_CATEGORIES = 12
REF_COLOUR, CUR_COLOUR = "#4c78a8", "#f58518"


@dataclass(frozen=True)
class Plot:
    """Shares of reference and current rows per bar, with the bars' labels."""

    labels: list[str]
    reference: list[float]
    current: list[float]


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c) / total if total else 0.0 for c in counts]


def _edges(low: float, high: float, bins: int) -> np.ndarray:
    """``bins`` equal bins from ``low`` to ``high``, as ``np.histogram_bin_edges`` lays them, for
    any finite pair: numpy refuses a range wider than the largest float (values of -1e308 and 1e308
    in one window) and one value too large for +-0.5 to move it (a constant 1e17), and the report,
    already stored, then had no HTML and the run failed."""
    if low == high:
        low, high = low - 0.5, high + 0.5  # numpy's choice for a single value; 1e17 stays one point
    t = np.linspace(0.0, 1.0, bins + 1)
    return low * (1.0 - t) + high * t  # not low + (high - low) * t: the width itself may overflow


def numeric_plot(reference: pd.Series, current: pd.Series) -> Plot:
    ref = pd.to_numeric(reference, errors="coerce").to_numpy(dtype=np.float64)
    cur = pd.to_numeric(current, errors="coerce").to_numpy(dtype=np.float64)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    both = np.concatenate([ref, cur])
    if both.size == 0:
        return Plot([], [], [])
    edges = _edges(float(both.min()), float(both.max()), min(MAX_BINS, max(1, np.unique(both).size)))
    labels = [f"{edges[i]:.4g}" for i in range(len(edges) - 1)]
    return Plot(labels, _shares(np.histogram(ref, edges)[0]), _shares(np.histogram(cur, edges)[0]))


def category_plot(reference: pd.Series, current: pd.Series) -> Plot:
    ref = reference.dropna().astype(str).value_counts()
    cur = current.dropna().astype(str).value_counts()
    top = (ref.add(cur, fill_value=0)).sort_values(ascending=False, kind="stable")
    shown = [str(k) for k in top.index[:MAX_CATEGORIES]]
    ref_counts = [float(ref.get(k, 0)) for k in shown]
    cur_counts = [float(cur.get(k, 0)) for k in shown]
    if len(top) > MAX_CATEGORIES:  # the long tail as one bar, so shares still add up to one
        shown.append("(other)")
        ref_counts.append(float(ref.sum()) - sum(ref_counts))
        cur_counts.append(float(cur.sum()) - sum(cur_counts))
    return Plot(shown, _shares(np.array(ref_counts)), _shares(np.array(cur_counts)))


def column_plots(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], columns: list[str]
) -> dict[str, Plot]:
    """Distribution of each column on both sides; text columns are shown by their length."""
    plots = {}
    for name in columns:
        kind = kinds.get(name, "numeric")
        if kind == "numeric":
            plots[name] = numeric_plot(reference[name], current[name])
        elif kind == "categorical":
            plots[name] = category_plot(reference[name], current[name])
        else:
            plots[name] = numeric_plot(
                reference[name].dropna().astype(str).str.len(), current[name].dropna().astype(str).str.len()
            )
    return plots


def svg(plot: Plot, width: int = 420, height: int = 150) -> str:
    """Grouped bars: reference and current share per bin or category."""
    if not plot.labels:
        return "<p>no data to plot</p>"
    top = max(max(plot.reference), max(plot.current), 1e-12)
    n = len(plot.labels)
    slot = (width - 10) / n
    bar = max(slot / 2 - 1, 0.5)
    base = height - 20
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, (label, r, c) in enumerate(zip(plot.labels, plot.reference, plot.current, strict=True)):
        x = 5 + i * slot
        for offset, share, colour, side in (
            (0.0, r, REF_COLOUR, "reference"),
            (bar, c, CUR_COLOUR, "current"),
        ):
            h = (base - 5) * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{html.escape(label)} {side}: {share:.1%}</title></rect>'
            )
    parts.append(f'<line x1="5" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#555"/>')
    for i in sorted({0, n // 2, n - 1}):
        parts.append(
            f'<text x="{5 + i * slot:.1f}" y="{height - 5}" font-size="10">'
            f"{html.escape(plot.labels[i][:14])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _drift_rows(report: DriftReport) -> str:
    rows = []
    for c in report.columns:
        verdict = '<b class="bad">drift</b>' if c.drifted else "ok"
        rows.append(
            f"<tr><td>{html.escape(c.column)}</td><td>{c.kind}</td><td>{c.method}</td>"
            f"<td>{_num(c.statistic)}</td><td>{_num(c.p_value)}</td><td>{_num(c.threshold)}</td>"
            f"<td>{verdict}</td></tr>"
        )
    return "".join(rows)


def _table(report: DriftReport) -> str:
    if report.insufficient:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{kind}</td><td>insufficient data</td></tr>"
            for name, kind in report.untested
        )
        return f"<table><tr><th>column</th><th>kind</th><th>verdict</th></tr>{rows}</table>"
    return (
        "<table><tr><th>column</th><th>kind</th><th>method</th><th>statistic</th><th>p-value</th>"
        f"<th>threshold</th><th>verdict</th></tr>{_drift_rows(report)}</table>"
    )


def _band(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "<td>-</td><td>-</td><td>-</td>"
    return (
        f"<td>{_num(cell['value'])}</td><td>{_num(cell['sigma'])}</td>"
        f"<td>{_num(cell['lower'])} to {_num(cell['upper'])}</td>"
    )


def _performance(r: MonitoringReport) -> str:
    p = r.performance
    bands = r.metric_bands()
    names = sorted(set(r.baseline_metrics) | set(bands))
    rows = "".join(
        f"<tr{' class=watched' if m == p.metric else ''}><td>{html.escape(m)}</td>"
        f"<td>{_num(r.baseline_metrics.get(m))}</td>"
        f"{_band(bands.get(m, {}).get('realised'))}{_band(bands.get(m, {}).get('estimated'))}</tr>"
        for m in names
    )
    verdict = {"ok": "ok", "insufficient_data": "insufficient data"}.get(p.verdict, p.verdict)
    if p.degraded:
        verdict = '<b class="bad">degraded</b>'
    band = "-" if p.lower is None else f"{_num(p.lower)} to {_num(p.upper)}"
    return (
        f"<p>watched metric <b>{html.escape(p.metric)}</b>: holdout {_num(p.baseline)}, "
        f"realised {_num(p.realised)} ({p.labelled_rows} labelled of {p.rows} rows), "
        f"estimated {_num(p.estimated)}; judged on the {p.source or '-'} value: sampling error "
        f"{_num(p.sigma)}, band ({_num(p.band_sigmas)} sigma) {band}, drop {_num(p.drop)}, "
        f"threshold {_num(p.threshold)}: {verdict}</p>"
        "<p>degraded only when the drop exceeds the threshold and the whole band lies below the holdout "
        "value.</p>"
        "<table><tr><th>metric</th><th>champion holdout</th><th>realised</th><th>sigma</th><th>band</th>"
        f"<th>estimated</th><th>sigma</th><th>band</th></tr>{rows}</table>"
    )


def _multivariate(r: MonitoringReport) -> str:
    m = r.multivariate_drift
    if m is None:
        return "<p>not tested" + (" (too few rows)" if r.insufficient else "") + "</p>"
    verdict = '<b class="bad">drift</b>' if m.drifted else "ok"
    top = ", ".join(f"{html.escape(c)} ({share:.0%})" for c, share in m.importances[:5] if share > 0)
    return (
        f"<p>domain classifier (reference rows vs window rows, {m.current_rows} of each): cross-validated "
        f"ROC AUC {_num(m.auc)}, drift above {_num(m.threshold)}: {verdict}. Columns that separate them "
        f"most: {top or '-'}</p>"
    )


def _plots(report: DriftReport, plots: Mapping[str, Plot]) -> str:
    cells = []
    for c in report.columns:
        plot = plots.get(c.column)
        if plot is None:
            continue
        cells.append(
            f"<figure><figcaption>{html.escape(c.column)} — {_caption(c)}</figcaption>{svg(plot)}</figure>"
        )
    return "".join(cells)


def _caption(c: ColumnDrift) -> str:
    shown = "length " if c.kind == "text" else ""
    return f"{shown}{c.method} {_num(c.score)} ({'drift' if c.drifted else 'ok'})"


STYLE = (
    "body{font:14px system-ui,sans-serif;margin:24px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    ".bad{color:#c0392b}tr.watched{background:#fff6d5}figure{display:inline-block;margin:8px}"
    "figcaption{font-size:12px}.legend span{padding:0 6px;color:#fff}"
)


def _header(r: MonitoringReport) -> str:
    window = r.window
    if r.window_start is not None and r.window_end is not None:
        window += f" ({r.window_start:%Y-%m-%d %H:%M} to {r.window_end:%Y-%m-%d %H:%M} UTC)"
    return (
        f"<h1>{html.escape(r.project)}: monitoring report</h1>"
        f"<p>window {html.escape(window)} * {r.current_rows} current rows * reference: champion "
        f"v{html.escape(r.model_version)}, dataset {html.escape(r.dataset_version)} ({r.reference_rows} rows)"
        f" * made {r.report_date:%Y-%m-%d %H:%M} UTC</p>"
        f'<p class="legend"><span style="background:{REF_COLOUR}">reference</span> '
        f'<span style="background:{CUR_COLOUR}">current</span></p>'
    )


def _summary(r: MonitoringReport) -> str:
    d = r.data_drift
    if r.insufficient:
        detected = f"no verdict: {r.current_rows} rows, fewer than monitoring.min_rows = {r.min_rows}"
    else:
        detected = '<b class="bad">yes</b>' if r.drift_detected else "no"
    mv = "-" if r.multivariate_drift is None else _num(r.multivariate_drift.auc)
    return (
        f"<table><tr><th>drift detected</th><td>{detected}</td></tr>"
        f"<tr><th>data drift</th><td>{_num(d.number_of_drifted_columns)} of {d.number_of_columns} columns "
        f"(share {_num(r.data_drift_score)}; dataset drift at share &ge; {_num(d.drift_share)})</td></tr>"
        f"<tr><th>multivariate drift (ROC AUC)</th><td>{mv}</td></tr>"
        f"<tr><th>prediction drift</th><td>{_num(r.prediction_drift_score)}</td></tr>"
        f"<tr><th>performance drop</th><td>{_num(r.performance.score)}</td></tr></table>"
    )


def render_html(
    report: MonitoringReport, plots: Mapping[str, Plot], prediction_plots: Mapping[str, Plot]
) -> str:
    r = report
    pred = "<p>no predictions of this model version in the window</p>"
    if r.prediction_drift is not None:
        pred = _table(r.prediction_drift) + _plots(r.prediction_drift, prediction_plots)
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in r.skipped_columns.items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.notes)
    title = f"evergreen monitoring report {html.escape(r.project)} {html.escape(r.window)}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>\n{_header(r)}\n<h2>Summary</h2>{_summary(r)}\n"
        f"<h2>Performance</h2>{_performance(r)}\n"
        f"<h2>Data drift</h2>{_table(r.data_drift)}<h3>Multivariate</h3>{_multivariate(r)}"
        f"{f'<p>skipped:</p><ul>{skipped}</ul>' if skipped else ''}\n"
        f"<h2>Prediction drift</h2>{pred}\n<h2>Distributions</h2>{_plots(r.data_drift, plots)}\n"
        f"{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}</body></html>\n"
    )
