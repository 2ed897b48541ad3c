"""``evergreen status``, ``models`` and ``runs``: read the project's state (no MLflow import)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from evergreen.cli.common import (
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    check_choice,
    echo,
    open_project,
    print_json,
    print_table,
)


def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The champion, the last runs and the data."""
    from evergreen import __version__, control

    with open_project(config) as project:
        st = control.status(project)
    if as_json:
        print_json(st)
        return
    champ = st["champion"]
    echo(f"[bold]{escape(st['project'])}[/bold] ({st['task']})  evergreen {__version__}", markup=True)
    if champ:
        echo(f"champion: v{champ['version']}  dataset {champ['dataset_version']}")
    else:
        echo(f"champion: none: {st['no_champion']}" if st.get("no_champion") else "champion: none yet")
    if st["previous"]:
        echo(f"previous: v{st['previous']}")
    b = st["batches"]
    echo(
        f"batches: {b['accepted']} accepted ({b['rows']} rows), {b['quarantined']} quarantined, "
        f"{b['duplicate']} duplicate"
    )
    if st.get("overrides"):
        shown = ", ".join(
            f"{k}={v['value']} (by {v['actor']}"
            + (f"; ignored: {v['ignored']})" if v.get("ignored") else ")")
            for k, v in sorted(st["overrides"].items())
        )
        echo(f"run-time thresholds: {shown}")
    if st["pending_approval"]:
        echo(f"waiting for approval: {', '.join(st['pending_approval'])}")
    rows = [
        [r["id"], r["trigger"], r["status"], r["started_at"], r["candidate_version"], r["dataset_version"]]
        for r in st["runs"]
    ]
    print_table("recent runs", ["run", "trigger", "status", "started", "candidate", "dataset"], rows)


def models(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Registered versions with aliases and decisions."""
    with open_project(config) as project:
        versions = project.registry_reader.list_versions()
    if as_json:
        print_json([v.to_dict() for v in versions])
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
    print_table(
        f"models of {project.settings.project}",
        ["version", "aliases", "decision", "candidate", "dataset", "run"],
        rows,
    )


def _run_outcome(run: dict[str, Any]) -> str:
    from evergreen.store.runs import error_parts

    # The error's one line: the traceback stored after it is for --json (no traceback on a terminal).
    return error_parts(run.get("error"))[0] or str((run.get("details") or {}).get("reason") or "")


def runs(
    limit: LimitOpt = 20,
    run_status: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pipeline runs, newest first."""
    from evergreen.store.runs import RUN_STATUSES, list_runs

    check_choice("--status", run_status, RUN_STATUSES)  # a typo would list nothing and exit 0
    with open_project(config) as project:
        found = list_runs(project.store, limit=limit, status=run_status)
    if as_json:
        print_json(found)
        return
    rows = [
        [
            r["id"],
            r["trigger"],
            r["status"],
            r["started_at"],
            r["dataset_version"],
            r["candidate_version"],
            _run_outcome(r),
        ]
        for r in found
    ]
    # "outcome": the decision's reason or the failure; the reason the run was asked for is in --json
    # ("reason"): the column was named "reason" and read as the one given.
    print_table("runs", ["run", "trigger", "status", "started", "dataset", "candidate", "outcome"], rows)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(models)
    app.command()(runs)
