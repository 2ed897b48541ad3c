"""``evergreen alerts [--ack ID] [--resolve ID] [--check]``: list alerts and act on them (audited)."""

from __future__ import annotations

from typing import Annotated

import typer

from evergreen.cli.common import (
    ActorOpt,
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    ReasonOpt,
    check_choice,
    echo,
    open_project,
    print_json,
    print_table,
)

MAX_ALERT_ID = 2**31 - 1


def alerts(
    # Bounded as the ids are (an integer column): a larger one was a database error, not "no such alert".
    ack: Annotated[
        int | None, typer.Option("--ack", min=1, max=MAX_ALERT_ID, help="Acknowledge alert ID.")
    ] = None,
    resolve: Annotated[
        int | None, typer.Option("--resolve", min=1, max=MAX_ALERT_ID, help="Resolve alert ID by hand.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Evaluate the rules now (drift, runs, approvals) and send.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only alerts with this status (open, acknowledged, resolved)."),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    limit: LimitOpt = 50,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open alerts, newest first; --ack / --resolve act on one (audited)."""
    from evergreen.alerts.repository import ALERT_STATUSES, list_alerts

    check_choice("--status", status, ALERT_STATUSES)  # a typo would list nothing and exit 0
    if ack is not None and resolve is not None:  # one action per call: never drop one silently
        from evergreen.errors import BadInputError

        raise BadInputError("--ack and --resolve: give one of them, not both")
    # Closing the project as the command ends lets queued alert deliveries go out (bounded wait).
    with open_project(config) as project:
        if ack is not None or resolve is not None:
            from evergreen import control
            from evergreen.store.audit import cli_actor

            who = cli_actor(actor)
            from evergreen.alerts.rules import shown_alert

            row = shown_alert(
                control.acknowledge_alert(project, ack, actor=who, reason=reason)
                if ack is not None
                else control.resolve_alert(project, int(resolve or 0), actor=who, reason=reason),
                project.redactor,
            )
            if as_json:
                print_json(row)
            else:
                echo(f"alert {row['id']} is now {row['status']}: {row['title']}")
            return
        if check:  # evaluating starts the alert service (channels, a delivery thread); listing does not
            from evergreen.alerts import raise_alerts

            raise_alerts(project)
        from evergreen.alerts.rules import shown_alert

        # Rows written before the scrub (110c6fa) are shown as they would be sent.
        stored = list_alerts(project.store, status=status, limit=limit)
        rows = [shown_alert(r, project.redactor) for r in stored]
    if not status and not show_all:
        rows = [r for r in rows if r["status"] != "resolved"]
    if as_json:
        print_json(rows)
        return
    print_table(
        f"alerts of {project.settings.project}",
        ["id", "level", "status", "kind", "updated", "title"],
        [[r["id"], r["level"], r["status"], r["kind"], r["updated_at"], r["title"]] for r in rows],
    )


def register(app: typer.Typer) -> None:
    app.command()(alerts)
