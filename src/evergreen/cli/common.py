"""What every command shares: the common options, opening the project, and how output is printed.

Output rules (DESIGN.md §2): an error is exactly one plain line on stderr, ``error: <file or key>:
<what>``, never wrapped (Rich wraps at 80 columns when stderr is not a terminal, so error lines do not
go through Rich); without a TTY, tables and text are printed at a width that never truncates or wraps
a value; ``--json`` prints the data, not the table.

This module imports only what ``evergreen --help`` needs anyway (Typer, Rich): commands import
their heavy dependencies inside the command function, the settings models included.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from evergreen.layout import CONFIG_FILE

if TYPE_CHECKING:
    from evergreen.project import Project

# Without a terminal nothing reads the width: wide enough that no value is cut or folded.
NO_TTY_WIDTH = 100_000

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help=f"Path to {CONFIG_FILE} or its directory.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who is acting (default: cli:$USER).")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (recorded in the audit).")]
# Bounded: a larger LIMIT is a database error (OverflowError, exit 1), a negative one means "all".
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, max=2**31 - 1, help="How many rows.")]


def check_choice(option: str, value: str | None, allowed: Sequence[str]) -> None:
    """:class:`BadInputError` naming ``option`` unless ``value`` is unset or one of ``allowed``."""
    if value is not None and value not in allowed:
        from evergreen.errors import BadInputError

        raise BadInputError(f"{option} {value!r}: use one of {', '.join(allowed)}")


@dataclass
class CliState:
    """Options of the ``evergreen`` group that outlive the command (read by :func:`main`)."""

    verbose: bool = False


def open_project(config: Path | None) -> Project:
    """Load the settings (exit 2 naming the key when invalid) and open the project's store.

    The command owns the project: ``with open_project(config) as project:``, so that closing it as
    the command ends lets the services made for it (queued alert deliveries) finish.
    """
    from evergreen.config import load_settings
    from evergreen.logs import redact_logs
    from evergreen.project import open_project as _open

    project = _open(load_settings(config))
    redact_logs(project.redactor)  # from here on no log line of this command holds a configured secret
    return project


def console(*, stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr) that only wraps to the terminal's width on a terminal."""
    stream: TextIO = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else NO_TTY_WIDTH
    return Console(stderr=stderr, width=width, soft_wrap=width is not None)


def echo(text: str, *, markup: bool = False) -> None:
    """One message to stdout; Rich markup (``[bold]``) only where the caller wrote it on purpose."""
    console().print(text, markup=markup, highlight=False)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (non-JSON values such as datetimes as their ``str``)."""
    text = json.dumps(data, default=str, indent=2, ensure_ascii=False)
    if sys.stdout.isatty():
        console().print_json(text)
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout; on a terminal Rich fits it to the width, elsewhere every value is whole."""
    console().print(table(title, columns, rows))


def error_line(message: str, stream: TextIO | None = None) -> None:
    """``error: <message>`` as exactly one line on stderr, however long and whatever the width.

    ``message`` is normally one already (``errors.one_line(exc)``); a stray line break is joined.
    """
    from evergreen.redact import Redactor

    out = stream or sys.stderr
    text = "; ".join(line.strip() for line in Redactor()(message).splitlines() if line.strip())
    out.write(f"error: {text}\n")
    out.flush()


def note_line(text: str) -> None:
    """A plain line on stderr that is not an error (details shown with ``--verbose``)."""
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()
