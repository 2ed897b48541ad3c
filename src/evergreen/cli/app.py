"""The ``evergreen`` Typer app: the group's options, the verb modules, and :func:`main`.

Exit codes (DESIGN.md §2): 0 success (a rejected candidate or a skipped run is a success and says
why), 2 bad input, bad config or a usage error, 1 anything else. Every error prints one line;
``--verbose`` adds the details and the traceback.
"""

from __future__ import annotations

import atexit
import gc as garbage_collector  # evergreen.cli.gc is the `evergreen gc` verb
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Annotated

import typer
from typer.main import get_command_name
from typer.models import CommandInfo

from evergreen.cli import (
    actions,
    alerts,
    gc,
    monitor,
    orchestrators,
    project,
    retrain,
    scheduler,
    serve,
    state,
)
from evergreen.cli.common import CliState, echo, error_line, note_line
from evergreen.errors import EvergreenError, one_line
from evergreen.telemetry import disable_mlflow_telemetry

# In the order ``evergreen --help`` lists them.
VERB_MODULES = (project, retrain, state, actions, monitor, alerts, serve, scheduler, orchestrators, gc)


def _print_version(value: bool) -> None:
    # Eager: click checks for a missing verb before the group's callback runs, so `evergreen
    # --version` alone would be "Missing command" if the group's body printed it.
    if value:
        from evergreen import __version__

        echo(f"evergreen {__version__}")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="evergreen",
        help="Keep a machine-learning model fresh: ingest, retrain, compare, promote, serve, monitor.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _group(
        ctx: typer.Context,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Show error details and debug logs.")
        ] = False,
        version: Annotated[
            bool,
            typer.Option(
                "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
            ),
        ] = False,
    ) -> None:
        ctx.ensure_object(CliState).verbose = verbose
        from evergreen.logs import configure_logging

        configure_logging(logging.DEBUG if verbose else logging.WARNING)
        # MLflow sets up its own loggers when a command first imports it, after the line above: its
        # level comes from MLFLOW_LOGGING_LEVEL (INFO unset), so a first retrain printed "INFO
        # mlflow.store.db.utils: Creating initial MLflow database tables...". Warnings still show.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "DEBUG" if verbose else "WARNING")

    for module in VERB_MODULES:
        module.register(app)
    return app


app = build_app()


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app that runs ``args``: when they name a verb, it holds only that verb's command.

    Typer turns every registered function into a click command (signature and type-hint inspection)
    each time the app runs, ~0.03 s for all the verbs; one verb is enough to run one. ``--help``,
    no verb or an unknown one get the whole app, which lists the verbs or says which is unknown.
    """
    whole = build_app()
    verb = _verb(args)
    only = [c for c in whole.registered_commands if _command_name(c) == verb]
    if only:
        whole.registered_commands = only
    return whole


# Verbs that read a few rows, print them and exit. The cyclic garbage collector has nothing to free in
# them: nearly all they allocate is what their imports create (SQLAlchemy, pydantic, Typer: ~0.3 M
# objects that live until exit), yet it walks those objects again and again while the imports run
# and once more at exit, ~0.1 s of a 0.6 s run (benchmarks/RESULTS.md, CLI start-up). Every other
# verb may run for hours (serve, scheduler) or churn through data frames (retrain, monitor, ingest):
# the collector stays on for them.
QUICK_VERBS = frozenset({"status", "runs", "alerts", "models"})


def _verb(args: Sequence[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def pause_garbage_collection(args: Sequence[str]) -> bool:
    """Turn the cyclic collector off for a quick verb's process; True when it did.

    Only for a process that runs one command and exits (the console script): the objects alive at
    exit are frozen, so the interpreter's last collection skips them too.
    """
    if _verb(args) not in QUICK_VERBS or "--help" in args:
        return False
    garbage_collector.disable()
    atexit.register(garbage_collector.freeze)
    return True


def _command_name(info: CommandInfo) -> str:
    return info.name or (get_command_name(info.callback.__name__) if info.callback else "")


def _is_usage_error(exc: BaseException) -> bool:
    # Typer 0.29 vendors click, so its exceptions are not ``click``'s: recognise them by their shape
    # (a ClickException has ``exit_code`` and ``format_message``; usage errors exit 2).
    return callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int)


def _usage_line(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{exc.format_message()}{hint}"  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: run the app, turn every failure into one line and an exit code."""
    state = CliState()
    disable_mlflow_telemetry()  # before any command imports MLflow (it decides at import)
    # MLflow's hint at each model logged: evergreen's signatures keep integer columns `long` on
    # purpose (DESIGN.md §4), so the user has nothing to act on. Printed with its source line, it
    # looked like a traceback on the stderr of a successful retrain.
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
    args = list(argv) if argv is not None else sys.argv[1:]
    if argv is None:  # this process runs one command and exits (a test passes its own argv)
        pause_garbage_collection(args)
    try:
        # standalone_mode=False: click returns (instead of exiting) and lets errors reach us.
        rc = app_for(args)(
            args=args,
            prog_name="evergreen",
            standalone_mode=False,
            obj=state,
        )
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except EvergreenError as exc:
        error_line(one_line(exc))  # error_line drops URL passwords (no settings here to know more)
        if state.verbose:
            if exc.details is not None:
                note_line(json.dumps(exc.details, default=str, indent=2))
            note_line(traceback.format_exc())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        error_line(one_line(exc))
        sys.exit(130)
    except typer.Abort:
        error_line("aborted")
        sys.exit(1)
    except Exception as exc:  # a usage error, or a bug / an I/O failure: one line, details with -v
        if _is_usage_error(exc):
            error_line(_usage_line(exc))
            sys.exit(int(exc.exit_code))  # type: ignore[attr-defined]
        # Unexpected: the first line names it (a driver's message may go on with the SQL), -v has the rest.
        error_line(one_line(exc))
        if state.verbose:
            note_line(traceback.format_exc())
        sys.exit(1)
