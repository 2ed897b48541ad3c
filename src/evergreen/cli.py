"""The ``evergreen`` command line (DESIGN.md §2).

Exit codes: 0 success (a rejected candidate or a skipped run is a success and says why),
2 bad input or config, 1 anything else. Errors print one line; ``--verbose`` adds the details.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from evergreen import __version__
from evergreen.config import CONFIG_FILE, Settings, load_settings
from evergreen.errors import BadInputError, EvergreenError, one_line
from evergreen.telemetry import disable_mlflow_telemetry

app = typer.Typer(
    name="evergreen",
    help="Keep a machine-learning model fresh: ingest, retrain, compare, promote, serve, monitor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help=f"Path to {CONFIG_FILE} or its directory.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who is acting (default: cli:$USER).")]

T = TypeVar("T")


class State:
    verbose = False
    # Projects the command opened; main() closes them as the process ends (their alert deliveries go
    # out first). Typer vendors its own click, so click's context cannot own them.
    projects: list[Any] = []


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _project(config: Path | None) -> Any:
    from evergreen.project import open_project

    project = open_project(_settings(config))
    State.projects.append(project)
    return project


def _close_projects() -> None:
    while State.projects:
        State.projects.pop().close()


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show error details and debug logs.")
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"evergreen {__version__}")
        raise typer.Exit(0)
    State.verbose = verbose
    from evergreen.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.WARNING)


# ---- project -------------------------------------------------------------------------------------
@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    example: Annotated[str, typer.Option("--example", help="Example to start from: churn.")] = "churn",
    force: Annotated[bool, typer.Option("--force", help=f"Overwrite an existing {CONFIG_FILE}.")] = False,
) -> None:
    """Write a commented evergreen.yaml and an example data set."""
    from evergreen.examples import churn

    if example != "churn":
        raise BadInputError(f"--example {example!r}: unknown example (available: churn)")
    directory.mkdir(parents=True, exist_ok=True)
    cfg = directory / CONFIG_FILE
    if cfg.exists() and not force:
        raise BadInputError(f"{cfg} already exists (use --force to overwrite)")
    churn.write_config(str(cfg))
    landing = directory / "landing"
    landing.mkdir(exist_ok=True)
    stream = churn.make_stream(batches=2, start=churn.recent_start(2))
    for i, frame in enumerate(stream):
        frame.to_csv(landing / f"customers-week{i:02d}.csv", index=False)
    out.print(f"wrote {cfg} and {len(stream)} example batches in {landing}")
    out.print(f"next: cd {directory} && evergreen retrain")


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files to ingest (default: the landing dir).")
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate, scrub PII and snapshot data files. Exit 2 if any file was quarantined."""
    from evergreen.data.ingest import ingest_landing, ingest_paths

    project = _project(config)
    results = (
        ingest_paths(project.settings, project.store, paths)
        if paths
        else ingest_landing(project.settings, project.store)
    )
    if as_json:
        _print_json([r.__dict__ for r in results])
    else:
        rows = [
            [Path(r.source).name, r.status, r.batch_id, r.rows, r.labelled_rows, r.reason or ""]
            for r in results
        ]
        out.print(_table("ingest", ["file", "status", "batch", "rows", "labelled", "reason"], rows))
    bad = [r for r in results if r.status == "quarantined"]
    for r in bad:
        err.print(f"error: {r.message}", markup=False, highlight=False)
    if not results:
        out.print("nothing to ingest")
    if bad:
        raise typer.Exit(2)


# ---- retrain -------------------------------------------------------------------------------------
def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"--as-of {value!r}: not an ISO date or datetime (e.g. 2026-03-01)") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


@app.command()
def retrain(
    reason: Annotated[str | None, typer.Option("--reason", help="Why you retrain (recorded).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Train on data up to this date.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Retrain even if the data did not change.")] = False,
    trigger: Annotated[str, typer.Option("--trigger", help="Trigger recorded on the run.")] = "manual",
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest the landing dir, train candidates, compare with the champion and decide."""
    from evergreen.control import request_retrain
    from evergreen.progress import RetrainProgress
    from evergreen.store.audit import cli_actor

    project = _project(config)
    with RetrainProgress(err, enabled=not as_json) as progress:
        ticket = request_retrain(
            project,
            actor=cli_actor(actor),
            reason=reason,
            force=force,
            as_of=_parse_as_of(as_of),
            trigger=trigger,
            wait=True,
            progress=progress,
        )
    outcome = ticket.outcome
    if outcome is None:  # a scheduler owns retrains for this project: it got the request
        if as_json:
            _print_json({"queued": True, "request_id": ticket.request_id})
        else:
            out.print(ticket.message)
        return
    if as_json:
        _print_json(outcome.to_dict())
        return
    from evergreen.progress import outcome_table

    out.print(outcome_table(outcome))
    out.print(f"[bold]{outcome.status}[/bold]: {outcome.reason}", highlight=False)


# ---- state ---------------------------------------------------------------------------------------
@app.command()
def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The champion, the last runs and the data."""
    from evergreen.control import status as project_status

    project = _project(config)
    st = project_status(project)
    if as_json:
        _print_json(st)
        return
    champ = st["champion"]
    out.print(f"[bold]{st['project']}[/bold] ({st['task']})  evergreen {__version__}")
    out.print(
        f"champion: v{champ['version']}  dataset {champ['dataset_version']}"
        if champ
        else "champion: none yet"
    )
    if st["previous"]:
        out.print(f"previous: v{st['previous']}")
    b = st["batches"]
    out.print(
        f"batches: {b['accepted']} accepted ({b['rows']} rows), {b['quarantined']} quarantined, "
        f"{b['duplicate']} duplicate"
    )
    if st.get("overrides"):
        shown = ", ".join(f"{k}={v['value']} (by {v['actor']})" for k, v in sorted(st["overrides"].items()))
        out.print(f"run-time thresholds: {shown}", highlight=False)
    if st["pending_approval"]:
        out.print(f"waiting for approval: {', '.join(st['pending_approval'])}")
    rows = [
        [r["id"], r["trigger"], r["status"], r["started_at"], r["candidate_version"], r["dataset_version"]]
        for r in st["runs"]
    ]
    out.print(_table("recent runs", ["run", "trigger", "status", "started", "candidate", "dataset"], rows))


@app.command()
def models(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Registered versions with aliases and decisions."""
    project = _project(config)
    versions = project.registry.list_versions()
    if as_json:
        _print_json([v.to_dict() for v in versions])
        return
    rows = [
        [
            v.version,
            ",".join(v.aliases),
            v.tags.get("evergreen.decision"),
            v.tags.get("evergreen.candidate"),
            v.tags.get("evergreen.dataset_version"),
            v.tags.get("evergreen.run_id"),
        ]
        for v in versions
    ]
    out.print(
        _table(
            f"models of {project.settings.project}",
            ["version", "aliases", "decision", "candidate", "dataset", "run"],
            rows,
        )
    )


@app.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.")] = 20,
    run_status: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pipeline runs, newest first."""
    from evergreen.store.runs import list_runs

    project = _project(config)
    found = list_runs(project.store, limit=limit, status=run_status)
    if as_json:
        _print_json(found)
        return
    rows = [
        [
            r["id"],
            r["trigger"],
            r["status"],
            r["started_at"],
            r["dataset_version"],
            r["candidate_version"],
            (r.get("error") or (r.get("details") or {}).get("reason") or "")[:80],
        ]
        for r in found
    ]
    out.print(_table("runs", ["run", "trigger", "status", "started", "dataset", "candidate", "reason"], rows))


# ---- human actions -------------------------------------------------------------------------------
def _act(fn: Callable[..., Any], config: Path | None, as_json: bool, *args: Any, **kwargs: Any) -> None:
    project = _project(config)
    result = fn(project, *args, **kwargs)
    if as_json:
        _print_json(result.to_dict())
    else:
        out.print(result.message)


ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (recorded in the audit).")]


@app.command()
def promote(
    version: str,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make VERSION the champion by hand (audited)."""
    from evergreen.control import promote as do
    from evergreen.store.audit import cli_actor

    _act(do, config, as_json, version, actor=cli_actor(actor), reason=reason)


@app.command()
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
    from evergreen.control import rollback as do
    from evergreen.store.audit import cli_actor

    _act(do, config, as_json, to=to, actor=cli_actor(actor), reason=reason)


@app.command()
def approve(
    run_id: str,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a candidate waiting for approval (promotes it if still better)."""
    from evergreen.control import approve as do
    from evergreen.store.audit import cli_actor

    _act(do, config, as_json, run_id, actor=cli_actor(actor), reason=reason)


@app.command()
def reject(
    run_id: str,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a candidate waiting for approval."""
    from evergreen.control import reject as do
    from evergreen.store.audit import cli_actor

    _act(do, config, as_json, run_id, actor=cli_actor(actor), reason=reason or "rejected by hand")


# ---- demo ----------------------------------------------------------------------------------------
@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Argument(help="Where to create the demo project (default: temp).")
    ] = None,
    batches: Annotated[int, typer.Option("--batches", help="How many weekly batches to replay.")] = 10,
    rows: Annotated[int, typer.Option("--rows", help="Rows per batch.")] = 1500,
) -> None:
    """Replay a churn data stream with a change half-way: ingest and retrain after each batch."""
    from evergreen.demo import DEMO_SALT, run_demo

    os.environ.setdefault(*DEMO_SALT)  # the entry point sets the demo's salt; the library never does
    run_demo(directory, batches=batches, rows=rows, console=out)


# Commands of the other components live beside them; each module exposes ``register(app)``.
COMMAND_MODULES = ("serve", "monitor", "scheduler", "alerts", "orchestrators")


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        module = f"evergreen.commands.{name}"
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_commands()


def main() -> None:
    disable_mlflow_telemetry()  # before any command imports MLflow (it decides at import)
    try:
        _run()
    finally:
        _close_projects()  # a short-lived process: the commands' alert deliveries go out first


def _run() -> None:
    try:
        # With standalone_mode=False click returns the code of a typer.Exit instead of exiting.
        rc = app(standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except EvergreenError as exc:
        err.print(f"error: {one_line(exc)}", markup=False, highlight=False)
        if State.verbose:
            if exc.details is not None:
                err.print_json(json.dumps(exc.details, default=str))
            err.print(traceback.format_exc(), markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        err.print(one_line(exc))
        sys.exit(130)
    except Exception as exc:  # click usage errors are handled below; everything else is a bug or I/O
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2 if isinstance(exc, click.exceptions.UsageError) else 1)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        err.print(f"error: {one_line(exc)}", markup=False, highlight=False)
        if State.verbose:
            err.print(traceback.format_exc(), markup=False, highlight=False)
        sys.exit(1)
