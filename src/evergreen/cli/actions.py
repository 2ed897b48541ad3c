"""``evergreen promote``, ``rollback``, ``approve`` and ``reject``: the audited human actions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from evergreen.cli.common import ActorOpt, ConfigOpt, JsonOpt, ReasonOpt, echo, open_project, print_json


def _report(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
    else:
        echo(result.message)


def _who(actor: str | None) -> str:
    from evergreen.store.audit import cli_actor

    return cli_actor(actor)


def promote(
    version: str,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make VERSION the champion by hand (audited)."""
    from evergreen import control

    with open_project(config) as project:
        _report(control.promote(project, version, actor=_who(actor), reason=reason), as_json)


def rollback(
    to: Annotated[
        str | None, typer.Option("--to", help="Version to roll back to (default: previous).")
    ] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Point champion back at the previous (or given) version (audited)."""
    from evergreen import control

    with open_project(config) as project:
        _report(control.rollback(project, to=to, actor=_who(actor), reason=reason), as_json)


def approve(
    run_id: str,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a candidate waiting for approval (promotes it if still better)."""
    from evergreen import control

    with open_project(config) as project:
        _report(control.approve(project, run_id, actor=_who(actor), reason=reason), as_json)


def reject(
    run_id: str,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a candidate waiting for approval."""
    from evergreen import control

    with open_project(config) as project:
        result = control.reject(project, run_id, actor=_who(actor), reason=reason or "rejected by hand")
        _report(result, as_json)


def register(app: typer.Typer) -> None:
    for command in (promote, rollback, approve, reject):
        app.command()(command)
