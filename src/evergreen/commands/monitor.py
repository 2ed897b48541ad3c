"""``evergreen monitor``: compare a window of live traffic with the champion's data, store the report.

Imports of ``evergreen.cli`` stay inside the command: ``cli`` imports this module while it is
itself being imported, so a module-level import would see it half-initialised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evergreen.config import CONFIG_FILE

WindowOpt = Annotated[
    str | None,
    typer.Option("--window", "-w", help="7d, 24h, 90m, 2w or batch:ID (default: monitoring.window)."),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help=f"Path to {CONFIG_FILE} or its directory.")
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


def monitor(window: WindowOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Data drift, prediction drift and live performance of a window vs the champion's reference."""
    from evergreen.cli import _print_json, _project, _table, out
    from evergreen.monitoring.job import run_monitoring

    project = _project(config)
    report = run_monitoring(project, window)
    data = report.to_dict()
    if as_json:
        _print_json(data)
        return
    d = data["details"]
    out.print(
        _table(
            f"drift: {report.window} vs champion v{report.model_version}",
            ["column", "kind", "method", "statistic", "p-value", "threshold", "verdict"],
            summary_rows(d),
        )
    )
    dd = d["data_drift"]
    out.print(
        f"data drift: {dd['number_of_drifted_columns']} of {dd['number_of_columns']} columns "
        f"(share {_fmt(dd['share'])}, dataset drift at >= {_fmt(dd['drift_share'])}): "
        f"{'DRIFT' if dd['dataset_drift'] else 'ok'}",
        highlight=False,
    )
    p = d["performance"]
    state = "DEGRADED" if p["degraded"] else ("ok" if p["drop"] is not None else "not measurable yet")
    out.print(
        f"performance ({p['metric']}): holdout {_fmt(p['baseline'])}, realised {_fmt(p['realised'])} "
        f"({p['labelled_rows']} labelled of {p['rows']}), estimated {_fmt(p['estimated'])}, "
        f"drop {_fmt(p['drop'])} (threshold {_fmt(p['threshold'])}): {state}",
        highlight=False,
    )
    for note in d["notes"]:
        out.print(f"note: {note}", highlight=False)
    out.print(
        f"drift detected: {'yes' if report.drift_detected else 'no'}; report {report.id}: {report.html_path}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
