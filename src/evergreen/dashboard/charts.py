"""Server-rendered SVG line charts (pure: numbers in, markup out; no JavaScript, no chart library).

A chart has one or more series over the same x positions (oldest left), an optional horizontal
threshold line, an optional band per series (lower/upper, drawn as a shaded polygon), and each point
may link to a page (its report). The markup is deterministic so tests compare it exactly; the same
numbers are always shown as a table beside the chart by the template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # None: no value at that x (a gap)
    lower: tuple[float | None, ...] | None = None
    upper: tuple[float | None, ...] | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    labels: tuple[str, ...]  # one per x position
    series: tuple[Series, ...]
    threshold: float | None = None
    threshold_label: str = "threshold"
    links: tuple[str | None, ...] = ()  # per x position
    y_range: tuple[float, float] | None = None  # fixed axis (e.g. 0..1); else from the data
    width: int = 640
    height: int = 220


PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 12, 28


def finite(v: Any) -> float | None:
    """A stored value as a number to plot or show: None (a gap) for a bool, a non-number, NaN or ±inf."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def y_bounds(chart: Chart) -> tuple[float, float]:
    if chart.y_range is not None:
        return chart.y_range
    values = [v for s in chart.series for seq in (s.values, s.lower or (), s.upper or ()) for v in seq]
    finite = [v for v in values if v is not None]
    if chart.threshold is not None:
        finite.append(chart.threshold)
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if lo == hi:
        return lo - 0.5, hi + 0.5
    margin = (hi - lo) * 0.05
    return lo - margin, hi + margin


def _scale(chart: Chart) -> tuple[list[float], float, float]:
    n = len(chart.labels)
    inner_w = chart.width - PAD_L - PAD_R
    xs = [PAD_L + (inner_w * i / (n - 1) if n > 1 else inner_w / 2) for i in range(n)]
    lo, hi = y_bounds(chart)
    return xs, lo, hi


def render_svg(chart: Chart) -> str:
    """The chart as one ``<svg>`` element with a ``<title>`` and an ARIA role and label for screen readers."""
    xs, lo, hi = _scale(chart)
    inner_h = chart.height - PAD_T - PAD_B

    def y(v: float) -> float:
        return PAD_T + inner_h * (1 - (v - lo) / (hi - lo))

    # A chart whose points are links is a group of links (an "img" may hold nothing interactive).
    role = "group" if any(chart.links) else "img"
    out = [
        f'<svg class="chart" viewBox="0 0 {chart.width} {chart.height}" width="{chart.width}" '
        f'height="{chart.height}" role="{role}" aria-label="{escape(chart.title)}">',
        f"<title>{escape(chart.title)}</title>",
        f'<line class="axis" x1="{PAD_L}" y1="{PAD_T + inner_h}" x2="{chart.width - PAD_R}" '
        f'y2="{PAD_T + inner_h}" stroke="#555"/>',
        f'<line class="axis" x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + inner_h}" stroke="#555"/>',
        _label(PAD_L - 4, PAD_T + 4, lo_hi(hi), "end"),
        _label(PAD_L - 4, PAD_T + inner_h, lo_hi(lo), "end"),
    ]
    if chart.labels:
        out.append(_label(xs[0], chart.height - 8, chart.labels[0]))
        if len(chart.labels) > 1:
            out.append(_label(xs[-1], chart.height - 8, chart.labels[-1], "end"))
    for i, s in enumerate(chart.series):
        stroke = series_color(i)
        if s.lower is not None and s.upper is not None:
            top = [(x, u) for x, u in zip(xs, s.upper, strict=True) if u is not None]
            bottom = [(x, low) for x, low in zip(xs, s.lower, strict=True) if low is not None]
            if top and bottom:
                pts = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in [*top, *reversed(bottom)])
                out.append(f'<polygon class="band" points="{pts}" fill="{stroke}" fill-opacity="0.15"/>')
        for segment in _segments(xs, s.values):
            pts = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in segment)
            dash = ' stroke-dasharray="4 3"' if s.dashed else ""
            out.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="2"{dash}/>')
        for j, (x, v) in enumerate(zip(xs, s.values, strict=True)):
            if v is None:
                continue
            dot = (
                f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="3.5" fill="{stroke}">'
                f"<title>{escape(s.name)} {escape(chart.labels[j])}: {v:.4f}</title></circle>"
            )
            link = chart.links[j] if j < len(chart.links) else None
            out.append(f'<a href="{escape(link)}">{dot}</a>' if link else dot)
    if chart.threshold is not None:
        ty = y(chart.threshold)
        out.append(
            f'<line class="threshold" x1="{PAD_L}" y1="{ty:.1f}" x2="{chart.width - PAD_R}" y2="{ty:.1f}" '
            f'stroke="#b35900" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{chart.width - PAD_R}" y="{ty - 3:.1f}" text-anchor="end" font-size="10" '
            f'fill="#b35900">{escape(chart.threshold_label)} {chart.threshold:g}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="10">{escape(text)}</text>'


def series_color(i: int) -> str:
    """The colour of series ``i`` (the template's legend uses the same)."""
    return PALETTE[i % len(PALETTE)]


def lo_hi(v: float) -> str:
    return f"{v:.3g}"


def _segments(xs: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive values: a None breaks the line instead of joining across the gap."""
    out: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, v in zip(xs, values, strict=True):
        if v is None:
            if current:
                out.append(current)
            current = []
        else:
            current.append((x, v))
    if current:
        out.append(current)
    return [seg for seg in out if len(seg) > 1]
