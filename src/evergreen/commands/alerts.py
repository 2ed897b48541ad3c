"""``evergreen alerts [--ack ID] [--resolve ID] [--check]``: list alerts and act on them locally.

Imports of ``evergreen.cli`` stay inside the command: ``cli`` imports this module while it is itself
being imported. Acting here is audited with the CLI user as actor, like the other human actions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evergreen.config import CONFIG_FILE

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help=f"Path to {CONFIG_FILE} or its directory.")
]


def alerts(
    ack: Annotated[int | None, typer.Option("--ack", help="Acknowledge alert ID.")] = None,
    resolve: Annotated[int | None, typer.Option("--resolve", help="Resolve alert ID by hand.")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Evaluate the rules now (drift, runs, approvals) and send.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only alerts with this status (open, acknowledged, resolved)."),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many alerts.")] = 50,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded in the audit).")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who is acting (default: cli:$USER).")] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Open alerts, newest first; --ack / --resolve act on one (audited)."""
    from evergreen.alerts import service_for
    from evergreen.alerts.repository import list_alerts
    from evergreen.cli import _print_json, _project, _table, out
    from evergreen.store.audit import cli_actor

    project = _project(config)
    svc = service_for(project)
    try:
        if ack is not None or resolve is not None:
            who = cli_actor(actor)
            row = (
                svc.acknowledge(ack, actor=who, reason=reason)
                if ack is not None
                else svc.resolve(int(resolve or 0), actor=who, reason=reason)
            )
            if as_json:
                _print_json(row)
            else:
                out.print(f"alert {row['id']} is now {row['status']}: {row['title']}", highlight=False)
            return
        if check:
            svc.evaluate()
        rows = list_alerts(project.store, status=status, limit=limit)
        if not status and not show_all:
            rows = [r for r in rows if r["status"] != "resolved"]
        if as_json:
            _print_json(rows)
            return
        table = [
            [r["id"], r["level"], r["status"], r["kind"], r["updated_at"], r["title"][:90]] for r in rows
        ]
        out.print(
            _table(
                f"alerts of {project.settings.project}",
                ["id", "level", "status", "kind", "updated", "title"],
                table,
            )
        )
    finally:
        project.close()  # a short-lived process: let queued deliveries go out (bounded wait)


def register(app: typer.Typer) -> None:
    app.command(name="alerts")(alerts)
