"""``evergreen demo``: the whole loop on embedded defaults, on a replayed churn stream."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evergreen.config import CONFIG_FILE, load_settings
from evergreen.data.landing import ingest_landing
from evergreen.errors import ConfigError
from evergreen.examples import churn
from evergreen.pipeline import RetrainOutcome, RetrainRequest, RetrainRunner
from evergreen.project import Project, open_project

DRIFT_AT = 5
# The demo owns its project, so a fixed, public PII salt is fine there; real projects set their own.
# The `evergreen demo` command puts it in the environment (unless set): run_demo never touches it.
DEMO_SALT = ("EVERGREEN_PII_SALT", "evergreen-demo-salt")
BAD_BATCH_AFTER = 2


def _write(frame: Any, landing: Path, name: str, fmt: str) -> Path:
    path = landing / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    return path


def _metric(m: dict[str, float], key: str) -> str:
    return f"{m[key]:.3f}" if key in m else "-"


def batch_table(
    index: int, drifted: bool, rows: int, outcome: RetrainOutcome, quarantined: list[str]
) -> Table:
    t = Table(
        title=f"week {index + 1}{' (after the change)' if drifted else ''}",
        header_style="bold",
        title_justify="left",
        show_lines=False,
    )
    for col in ("rows", "dataset", "candidate f1 / acc", "champion f1 / acc", "decision", "reason"):
        t.add_column(col, overflow="fold")
    cm, hm = outcome.candidate_metrics, outcome.champion_metrics
    cand = (
        f"v{outcome.candidate_version} {_metric(cm, 'f1_macro')} / {_metric(cm, 'accuracy')}" if cm else "-"
    )
    champ = (
        f"v{outcome.champion_version} {_metric(hm, 'f1_macro')} / {_metric(hm, 'accuracy')}"
        if hm
        else ("-" if outcome.champion_version is None else f"v{outcome.champion_version}")
    )
    reason = outcome.reason
    if outcome.decision:
        failed = [c for c in outcome.decision["checks"] if not c["passed"]]
        reason = failed[0]["detail"] if failed else "all gates passed"
    t.add_row(
        f"{rows} (+{outcome.data_size or 0} in window)",
        outcome.dataset_version or "-",
        cand,
        champ,
        outcome.status,
        reason,
    )
    if quarantined:
        t.caption = "quarantined: " + "; ".join(quarantined)
    return t


def run_demo(
    directory: Path | None, *, batches: int = 10, rows: int = 1500, console: Console | None = None
) -> list[RetrainOutcome]:
    console = console or Console()
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="evergreen-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    churn.write_config(str(root / CONFIG_FILE))
    settings = load_settings(root / CONFIG_FILE)
    with open_project(settings) as project:
        return _replay(project, root, batches, rows, console)


def _replay(project: Project, root: Path, batches: int, rows: int, console: Console) -> list[RetrainOutcome]:
    settings = project.settings
    landing = settings.data.landing_dir
    if landing is None:
        raise ConfigError("data.landing: the demo replays files into a local directory, not a URL")
    landing.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]evergreen demo[/bold]: project {settings.project} in {root}")
    console.print(
        f"{batches} weekly batches of {rows} customers; behaviour changes from week {DRIFT_AT + 1}.\n"
    )
    outcomes: list[RetrainOutcome] = []
    formats = ("csv", "parquet", "jsonl")
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("replaying the stream", total=batches)
        for i in range(batches):
            drifted = i >= DRIFT_AT
            frame = churn.make_batch(i, rows, drifted=drifted)
            _write(frame, landing, f"customers-week{i + 1:02d}", formats[i % 3])
            quarantined: list[str] = []
            if i == BAD_BATCH_AFTER:
                _write(churn.bad_batch(i), landing, f"customers-week{i + 1:02d}-broken-export", "csv")
                quarantined = [
                    r.message for r in ingest_landing(settings, project.store) if r.status == "quarantined"
                ]
            outcome = RetrainRunner(project).run(
                RetrainRequest(
                    trigger="new_data",
                    reason=f"week {i + 1} landed",
                    actor="system",
                    as_of=churn.batch_end(i),
                )
            )
            outcomes.append(outcome)
            progress.console.print(batch_table(i, drifted, rows, outcome, quarantined))
            progress.advance(task)
    _summary(console, project, outcomes, root)
    return outcomes


def _summary(console: Console, project: Any, outcomes: list[RetrainOutcome], root: Path) -> None:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    champion = project.registry.version_by_alias("champion")
    s = project.settings
    console.print("\n[bold]done[/bold]: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    console.print(f"champion: [bold]{s.project}@champion = v{champion}[/bold]")
    console.print(f"project:  {root}")
    console.print(f"metadata: {s.storage.database_url}")
    console.print(f"MLflow UI: mlflow ui --backend-store-uri {s.storage.mlflow_tracking_uri}")
    console.print(f"quarantine: {s.storage.quarantine_dir}")
    console.print(f"try: evergreen status --config {root}   |   evergreen runs --config {root}")
