"""Rich progress for retrains in the CLI and a table of a run's outcome."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from evergreen.pipeline import RetrainOutcome

STEPS = ("ingest", "dataset", "train", "register", "evaluate", "decide", "promote")


class RetrainProgress:
    """A progress callback for :class:`RetrainRunner` that draws one bar per run."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Not on a terminal (a pipe, CI, a log file) a bar is noise: Rich then left a blank line
            # before the one error line. The outcome and the logs say what happened.
            disable=not (enabled and console.is_terminal),
        )
        self.task: TaskID | None = None
        self.candidates = 0

    def __enter__(self) -> RetrainProgress:
        self.progress.__enter__()
        self.task = self.progress.add_task("retrain", total=len(STEPS))
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.__exit__(et, ev, tb)

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if self.task is None:
            return
        if event == "step" and data.get("step") in STEPS:
            self.progress.update(
                self.task, completed=STEPS.index(data["step"]), description=f"retrain: {data['step']}"
            )
        elif event == "candidate_started":
            self.progress.update(self.task, description=f"retrain: train {data.get('name', '')}")
        elif event == "finished":
            self.progress.update(self.task, completed=len(STEPS))


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v))


def outcome_table(outcome: RetrainOutcome) -> Table:
    t = Table(title=f"run {outcome.run_id}: {outcome.status}", header_style="bold")
    for col in ("candidate", "status", "fit s", "validation metrics"):
        t.add_column(col)
    for c in outcome.candidates:
        vm = ", ".join(
            f"{k}={v:.3f}"
            for k, v in c["val_metrics"].items()
            if k in ("accuracy", "f1_macro", "roc_auc", "rmse", "r2")
        )
        t.add_row(
            ("★ " if c["winner"] else "") + c["name"],
            c["status"],
            _fmt(c["fit_seconds"]),
            vm or (c["error"] or ""),
        )
    if outcome.decision:
        d = outcome.decision
        t.caption = (
            f"{d['metric']}: candidate v{outcome.candidate_version} {_fmt(d['candidate_value'])}"
            f" vs champion {('v' + outcome.champion_version) if outcome.champion_version else '-'} "
            f"{_fmt(d['champion_value'])} on the same holdout of dataset {outcome.dataset_version}"
        )
    return t
