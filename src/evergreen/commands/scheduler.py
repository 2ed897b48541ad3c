"""``evergreen scheduler``: the long-running loop that ingests, monitors and retrains on triggers."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evergreen.config import CONFIG_FILE

if TYPE_CHECKING:
    from evergreen.project import Project


def register(app: typer.Typer) -> None:
    @app.command()
    def scheduler(
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help=f"Path to {CONFIG_FILE} or its directory.")
        ] = None,
        once: Annotated[
            bool, typer.Option("--once", help="Run one pass (ingest, monitoring, triggers) and exit.")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="With --once: print what the pass did.")
        ] = False,
    ) -> None:
        """Watch the landing dir, run monitoring on its schedule and retrain when a trigger fires.

        Stops cleanly on SIGTERM or Ctrl-C: a retrain in progress is recorded as abandoned and the
        project's lock is released.
        """
        from evergreen.config import load_settings
        from evergreen.logs import configure_logging
        from evergreen.project import open_project

        # The loop's progress is its structured log, so it logs at INFO unless --verbose asked for more.
        if logging.getLogger().getEffectiveLevel() > logging.INFO:
            configure_logging(logging.INFO)
        # The command owns its project: closing it as the command ends lets queued alert deliveries go out.
        with open_project(load_settings(config)) as project:
            _run(project, once=once, as_json=as_json)


def _run(project: Project, *, once: bool, as_json: bool) -> None:
    from evergreen.triggers.scheduler import Scheduler, describe

    sched = Scheduler(project)
    if once:
        sched.open()
        try:
            result = describe(sched.tick())
        finally:
            sched.close()
        typer.echo(
            json.dumps(result, default=str)
            if as_json
            else f"fired: {', '.join(result['fired']) or 'nothing'}; run: {result['run_id'] or '-'}"
        )
        return
    t = project.settings.triggers
    metrics = None
    if t.metrics_port is not None:
        from evergreen.observability import start_scheduler_metrics

        metrics = start_scheduler_metrics(project, sched, t.metrics_host, t.metrics_port)
    try:
        sched.run_forever()
    finally:
        if metrics is not None:
            metrics.stop()
