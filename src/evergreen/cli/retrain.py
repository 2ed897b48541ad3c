"""``evergreen retrain``: ask for a retrain (``control.request_retrain`` runs it now, or queues it
when a scheduler owns the project) and show its outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape

from evergreen.cli.common import ActorOpt, ConfigOpt, JsonOpt, console, echo, open_project, print_json
from evergreen.errors import BadInputError


def parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"--as-of {value!r}: not an ISO date or datetime (e.g. 2026-03-01)") from None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    # The training window reaches back from it by up to MAX_DAYS: an earlier date overflowed that
    # arithmetic (OverflowError, exit 1).
    from evergreen.config import MAX_DAYS

    earliest = datetime(1, 1, 2, tzinfo=UTC) + timedelta(days=MAX_DAYS)
    if ts < earliest:
        raise BadInputError(f"--as-of {value!r}: must be {earliest:%Y-%m-%d} or later")
    return ts


def retrain(
    reason: Annotated[str | None, typer.Option("--reason", help="Why you retrain (recorded).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Train on data up to this date.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Retrain even if the data did not change.")] = False,
    trigger: Annotated[
        str,
        typer.Option(
            "--trigger", help="Trigger recorded on the run: manual, performance, drift, new_data or schedule."
        ),
    ] = "manual",
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest the landing dir, train candidates, compare with the champion and decide."""
    cutoff = parse_as_of(as_of)
    from evergreen import control

    control.check_trigger(trigger)  # before the project is opened and the progress display starts
    from evergreen.progress import RetrainProgress, outcome_table
    from evergreen.store.audit import cli_actor

    with (
        open_project(config) as project,
        RetrainProgress(console(stderr=True), enabled=not as_json) as progress,
    ):
        ticket = control.request_retrain(
            project,
            actor=cli_actor(actor),
            reason=reason,
            force=force,
            as_of=cutoff,
            trigger=trigger,
            wait=True,
            progress=progress,
        )
    outcome = ticket.outcome
    if outcome is None:  # a scheduler owns retrains for this project: it got the request
        if as_json:
            print_json({"queued": True, "request_id": ticket.request_id})
        else:
            echo(ticket.message)
        return
    if as_json:
        print_json(outcome.to_dict())
        return
    console().print(outcome_table(outcome))
    echo(f"[bold]{escape(outcome.status)}[/bold]: {escape(outcome.reason)}", markup=True)


def register(app: typer.Typer) -> None:
    app.command()(retrain)
