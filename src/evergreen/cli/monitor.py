"""``evergreen monitor``: compare a window of live traffic with the champion's data, store the report."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from evergreen.cli.common import ConfigOpt, echo, open_project, print_json, print_table

WindowOpt = Annotated[
    str | None,
    typer.Option("--window", "-w", help="7d, 24h, 90m, 2w or batch:ID (default: monitoring.window)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary_rows(details: dict[str, Any]) -> list[list[str]]:
    """One row per tested column, inputs first, then the prediction columns."""
    rows = []
    for part in ("data_drift", "prediction_drift"):
        block = details.get(part) or {}
        for name, c in (block.get("columns") or {}).items():
            label = name if part == "data_drift" else f"{name} (output)"
            if c.get("status") == "insufficient_data":
                rows.append([label, c["kind"], "-", "-", "-", "-", "insufficient data"])
                continue
            rows.append(
                [
                    label,
                    c["kind"],
                    c["method"],
                    _fmt(c["statistic"]),
                    _fmt(c["p_value"]),
                    _fmt(c["threshold"]),
                    "DRIFT" if c["drifted"] else "ok",
                ]
            )
    return rows


def performance_rows(performance: dict[str, Any]) -> list[list[str]]:
    """One row per metric and source: value, sampling error, band and (watched metric) the verdict."""
    rows = []
    for name, sources in (performance.get("metric_bands") or {}).items():
        for source, cell in sources.items():
            watched = name == performance["metric"] and source == performance.get("source")
            band = f"{_fmt(cell['lower'])} to {_fmt(cell['upper'])}"
            verdict = performance.get("verdict", "-") if watched else ""
            rows.append([name, source, _fmt(cell["value"]), _fmt(cell["sigma"]), band, verdict])
    return rows


def monitor(window: WindowOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Data drift, prediction drift and live performance of a window vs the champion's reference."""
    from evergreen.monitoring.job import run_monitoring

    with open_project(config) as project:
        report = run_monitoring(project, window)
    data = report.to_dict()
    if as_json:
        print_json(data)
        return
    d = data["details"]
    print_table(
        f"drift: {report.window} vs champion v{report.model_version}",
        ["column", "kind", "method", "statistic", "p-value", "threshold", "verdict"],
        summary_rows(d),
    )
    dd = d["data_drift"]
    why = "no column could be tested" if d.get("status") == "tested" else f"fewer than {d['min_rows']} rows"
    verdict = {"drift": "DRIFT", "ok": "ok"}.get(dd.get("status"), f"no verdict ({why})")
    echo(
        f"data drift: {_fmt(dd['number_of_drifted_columns'])} of {dd['number_of_columns']} columns "
        f"(share {_fmt(dd['share'])}, dataset drift at >= {_fmt(dd['drift_share'])}): {verdict}"
    )
    mv = d.get("multivariate_drift")
    if mv is not None:
        echo(
            f"multivariate drift: domain classifier ROC AUC {_fmt(mv['auc'])} (drift above "
            f"{_fmt(mv['threshold'])}): {'DRIFT' if mv['drifted'] else 'ok'}; separating columns: "
            f"{', '.join(mv['top_columns']) or '-'}"
        )
    p = d["performance"]
    print_table(
        f"performance vs holdout {p['metric']} {_fmt(p['baseline'])} ({p['labelled_rows']} labelled "
        f"of {p['rows']} rows; band = value +- {_fmt(p['band_sigmas'])} sigma)",
        ["metric", "source", "value", "sigma", "band", "verdict"],
        performance_rows(p),
    )
    state = {"degraded": "DEGRADED", "ok": "ok"}.get(p["verdict"], "insufficient data")
    floor = "" if p.get("floor") is None else f", minimum {_fmt(p['floor'])}"
    echo(
        f"performance ({p['metric']}): {p['source'] or '-'} {_fmt(p['value'])}, band {_fmt(p['lower'])} to "
        f"{_fmt(p['upper'])}, drop {_fmt(p['drop'])} (threshold {_fmt(p['threshold'])}{floor}): {state}"
    )
    for note in d["notes"]:
        echo(f"note: {note}")
    echo(f"drift detected: {_detected(report.drift_detected)}; report {report.id}: {report.html_path}")


def _detected(value: bool | None) -> str:
    return "no verdict (too few rows)" if value is None else ("yes" if value else "no")


def register(app: typer.Typer) -> None:
    app.command()(monitor)
