"""``evergreen scheduler``: the long-running loop that ingests, monitors and retrains on triggers."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer

from evergreen.cli.common import ConfigOpt, open_project


def scheduler(
    config: ConfigOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one pass (ingest, monitoring, triggers) and exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print what the pass did.")] = False,
) -> None:
    """Watch the landing dir, run monitoring on its schedule and retrain when a trigger fires.

    Stops cleanly on SIGTERM or Ctrl-C: a retrain in progress is recorded as abandoned and the
    project's lock is released.
    """
    from evergreen.logs import configure_logging
    from evergreen.triggers.scheduler import Scheduler, describe

    # The loop's progress is its structured log, so it logs at INFO unless --verbose asked for more.
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        configure_logging(logging.INFO)
    with open_project(config) as project:  # closing it flushes queued alert deliveries
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


def register(app: typer.Typer) -> None:
    app.command()(scheduler)
