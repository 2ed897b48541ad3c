"""``evergreen init``, ``ingest`` and ``demo``: make a project and bring data into it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from evergreen.cli.common import (
    CliState,
    ConfigOpt,
    JsonOpt,
    echo,
    error_line,
    open_project,
    print_json,
    print_table,
)
from evergreen.errors import BadInputError, ConfigError
from evergreen.layout import CONFIG_FILE


def _named_config(directory: Path | None, config: Path | None) -> Path | None:
    """The ``evergreen.yaml`` that ``DIRECTORY`` or ``--config`` names (None: neither was given).

    ``--config`` is a path to the file or to its directory, as for every other command; given beside
    a directory that names another place, the two disagree: exit 2 rather than guess.
    """
    if config is None:
        return None if directory is None else directory / CONFIG_FILE
    looks_like_file = config.suffix.lower() in (".yaml", ".yml") and not config.is_dir()
    cfg = config if looks_like_file else config / CONFIG_FILE
    if directory is not None and directory.resolve() != cfg.parent.resolve():
        raise BadInputError(
            f"--config {config} and the directory {directory} name two different projects: give one of them"
        )
    return cfg


def init(
    directory: Annotated[Path | None, typer.Argument(help="Project directory (default: .).")] = None,
    example: Annotated[str, typer.Option("--example", help="Example to start from: churn.")] = "churn",
    force: Annotated[bool, typer.Option("--force", help=f"Overwrite an existing {CONFIG_FILE}.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Write a commented evergreen.yaml and an example data set."""
    if example != "churn":
        raise BadInputError(f"--example {example!r}: unknown example (available: churn)")
    from evergreen.examples import churn

    cfg = _named_config(directory, config) or Path(".") / CONFIG_FILE
    directory = cfg.parent
    if directory.exists() and not directory.is_dir():  # was FileExistsError, exit 1
        raise BadInputError(f"{directory}: is a file, not a directory; give a new or empty directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(
            f"{directory}: cannot create the project directory ({exc.strerror or exc})"
        ) from None
    if cfg.exists() and not force:
        raise BadInputError(f"{cfg}: already exists (use --force to overwrite)")
    churn.write_config(str(cfg))
    landing = directory / "landing"
    landing.mkdir(exist_ok=True)
    stream = churn.make_stream(batches=2, start=churn.recent_start(2))
    for i, frame in enumerate(stream):
        frame.to_csv(landing / f"customers-week{i:02d}.csv", index=False)
    echo(f"wrote {cfg} and {len(stream)} example batches in {landing}")
    # A file of another name is not found by walking up from the directory: say how to name it.
    named = "" if cfg.name == CONFIG_FILE else f" --config {cfg.name}"
    from evergreen.config import load_settings

    try:
        pii = load_settings(cfg).data.pii
    except ConfigError:  # an EVERGREEN_* variable of this shell it cannot take: retrain will say
        pii = None
    if pii is not None and pii.hash and not os.environ.get(pii.salt_env):
        # Without it the first retrain stops at "environment variable ... is not set". Not made here:
        # a salt printed to a terminal ends up in scroll-back and CI logs.
        echo(
            f'next: export {pii.salt_env}="$(openssl rand -hex 16)"   # the salt of the hashed PII '
            f"columns ({', '.join(pii.hash)}): keep it with your secrets, a new one changes every hashed id"
        )
    echo(f"next: cd {directory} && evergreen retrain{named}")


def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files to ingest (default: the landing dir).")
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate, scrub PII and snapshot data files. Exit 2 if any file was quarantined."""
    from evergreen.data.ingest import ingest_paths
    from evergreen.data.landing import ingest_landing

    with open_project(config) as project:
        results = (
            ingest_paths(project.settings, project.store, paths)
            if paths
            else ingest_landing(project.settings, project.store)
        )
    if as_json:
        print_json([r.__dict__ for r in results])
    elif results:
        rows = [
            [Path(r.source).name, r.status, r.batch_id, r.rows, r.labelled_rows, r.reason or ""]
            for r in results
        ]
        print_table("ingest", ["file", "status", "batch", "rows", "labelled", "reason"], rows)
    else:
        echo("nothing to ingest")
    bad = [r for r in results if r.status == "quarantined"]
    for r in bad:
        error_line(r.message)
    if bad:
        raise typer.Exit(2)


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path | None, typer.Argument(help="Where to create the demo project (default: temp).")
    ] = None,
    batches: Annotated[int, typer.Option("--batches", help="How many weekly batches to replay.")] = 10,
    # min=1: a negative count was numpy's "negative dimensions are not allowed", exit 1.
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows per batch.")] = 1500,  # DEFAULT_ROWS
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Exit after the replay instead of serving until Ctrl-C.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Replay a churn stream through a running server: predictions, feedback, drift, retrain, swap."""
    import logging
    import os
    import secrets

    from evergreen.config import AuthConfig
    from evergreen.demo import DEMO_SALT, run_demo
    from evergreen.logs import configure_logging

    cfg = _named_config(directory, config)
    if cfg is not None and cfg.name != CONFIG_FILE:  # the demo writes its own evergreen.yaml
        raise BadInputError(
            f"--config {config}: the demo project's file is {CONFIG_FILE}; give its directory"
        )
    directory = None if cfg is None else cfg.parent
    os.environ.setdefault(*DEMO_SALT)  # the entry point sets the demo's salt; the library never does
    if not ctx.ensure_object(CliState).verbose:
        # The demo prints one line per event itself; the JSON logs (alerts too) are for --verbose.
        configure_logging(logging.CRITICAL)
    token = None
    if not no_serve:
        # A log-in token for the dashboard, made the way auth.tokens_env says ("name:role:token"),
        # added to any the environment already holds; it lives as long as this process.
        token = secrets.token_urlsafe(24)
        var = AuthConfig().tokens_env  # the demo's evergreen.yaml keeps the default
        current = os.environ.get(var, "")
        os.environ[var] = ",".join(p for p in (current, f"demo:admin:{token}") if p)
    run_demo(directory, batches=batches, rows=rows, keep_serving=not no_serve, token=token)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(ingest)
    app.command()(demo)
