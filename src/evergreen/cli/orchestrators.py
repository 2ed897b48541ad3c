"""``evergreen airflow-dag`` and ``evergreen prefect-flow``: print or write a ready-to-use file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evergreen.cli.common import ConfigOpt
from evergreen.errors import BadInputError

OutOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the file here instead of printing it.")
]


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.is_dir():  # was IsADirectoryError, exit 1
        raise BadInputError(f"--output {output}: is a directory; give the path of the file to write")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:  # a parent that is a file, no permission: the path is the user's
        raise BadInputError(f"--output {output}: cannot be written ({exc.strerror or exc})") from None
    typer.echo(f"wrote {output}")


def airflow_dag(
    config: ConfigOpt = None,
    output: OutOpt = None,
    no_asset: Annotated[
        bool,
        typer.Option(
            "--no-asset",
            help="Only the cron DAG, without the variant run when <landing>/_READY appears "
            "(a directory's file or a bucket prefix's object).",
        ),
    ] = False,
) -> None:
    r"""An Airflow 3 DAG file running evergreen's retrain steps (needs evergreen-ml\[airflow])."""
    from evergreen.config import find_config
    from evergreen.integrations.files import airflow_dag_source

    _emit(airflow_dag_source(config or find_config(), on_file_landing=not no_asset), output)


def prefect_flow(config: ConfigOpt = None, output: OutOpt = None) -> None:
    r"""A Prefect 3 flow file serving evergreen's retrain steps on the cron (evergreen-ml\[prefect])."""
    from evergreen.config import find_config
    from evergreen.integrations.files import prefect_flow_source

    _emit(prefect_flow_source(config or find_config()), output)


def register(app: typer.Typer) -> None:
    app.command("airflow-dag")(airflow_dag)
    app.command("prefect-flow")(prefect_flow)
