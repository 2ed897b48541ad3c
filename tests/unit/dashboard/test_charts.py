"""SVG charts: exact markup from fixed numbers (coordinates worked out by hand in the comments)."""

from __future__ import annotations

from evergreen.dashboard.charts import Chart, Series, render_svg, y_bounds

# width 200, height 100, padding left 48 right 12 top 12 bottom 28: the plot is x 48..188, y 12..72.
# Three labels: x = 48, 118, 188. y_range 0..1: y(v) = 12 + 60 * (1 - v).


def test_line_with_gap_threshold_and_links_exact() -> None:
    chart = Chart(
        title="drift of tenure",
        labels=("d1", "d2", "d3"),
        series=(Series("tenure", (0.0, 0.5, None)),),
        threshold=0.25,
        links=("/r/1", None, "/r/3"),
        y_range=(0.0, 1.0),
        width=200,
        height=100,
    )
    assert render_svg(chart) == "\n".join(
        [
            '<svg class="chart" viewBox="0 0 200 100" width="200" height="100" role="group" '
            'aria-label="drift of tenure">',
            "<title>drift of tenure</title>",
            '<line class="axis" x1="48" y1="72" x2="188" y2="72" stroke="#555"/>',
            '<line class="axis" x1="48" y1="12" x2="48" y2="72" stroke="#555"/>',
            '<text x="44.0" y="16.0" text-anchor="end" font-size="10">1</text>',
            '<text x="44.0" y="72.0" text-anchor="end" font-size="10">0</text>',
            '<text x="48.0" y="92.0" text-anchor="start" font-size="10">d1</text>',
            '<text x="188.0" y="92.0" text-anchor="end" font-size="10">d3</text>',
            # 0.0 -> y 72, 0.5 -> y 42; the None at d3 ends the line (no dot, no link)
            '<polyline points="48.0,72.0 118.0,42.0" fill="none" stroke="#1f77b4" stroke-width="2"/>',
            '<a href="/r/1"><circle cx="48.0" cy="72.0" r="3.5" fill="#1f77b4">'
            "<title>tenure d1: 0.0000</title></circle></a>",
            '<circle cx="118.0" cy="42.0" r="3.5" fill="#1f77b4"><title>tenure d2: 0.5000</title></circle>',
            # threshold 0.25 -> y 57
            '<line class="threshold" x1="48" y1="57.0" x2="188" y2="57.0" stroke="#b35900" '
            'stroke-dasharray="6 4"/>',
            '<text x="188" y="54.0" text-anchor="end" font-size="10" fill="#b35900">threshold 0.25</text>',
            "</svg>",
        ]
    )


def test_band_is_a_polygon_upper_then_lower_reversed() -> None:
    chart = Chart(
        title="f1",
        labels=("a", "b"),
        series=(Series("realised", (0.5, 0.5), lower=(0.25, 0.25), upper=(0.75, 1.0), dashed=True),),
        y_range=(0.0, 1.0),
        width=200,
        height=100,
    )
    svg = render_svg(chart)
    assert 'role="img"' in svg  # no links: a picture
    # upper 0.75 -> 27, 1.0 -> 12; lower 0.25 -> 57 (both x), walked back from right to left
    assert '<polygon class="band" points="48.0,27.0 188.0,12.0 188.0,57.0 48.0,57.0" ' in svg
    assert (
        'points="48.0,42.0 188.0,42.0" fill="none" stroke="#1f77b4" stroke-width="2" stroke-dasharray' in svg
    )


def test_bounds_from_the_data_with_five_percent_margin_and_escaped_text() -> None:
    chart = Chart(title="<x>", labels=("a", "b"), series=(Series("s", (1.0, 3.0)),), threshold=5.0)
    assert y_bounds(chart) == (0.8, 5.2)  # 1..5 (threshold included), margin 0.2 each side
    assert y_bounds(Chart(title="t", labels=("a",), series=(Series("s", (2.0,)),))) == (1.5, 2.5)
    assert y_bounds(Chart(title="t", labels=(), series=())) == (0.0, 1.0)
    assert "<title>&lt;x&gt;</title>" in render_svg(chart)
