"""What a stage works with besides its input reference: the project, progress, timings, a memo.

A :class:`StageContext` lives for one process's share of a run: the whole run for the embedded
runner, one task for an orchestrator. Its memo keeps what is expensive to rebuild (the assembled
dataset, the fitted candidate) for the next stage in the same process; a stage in a fresh process
finds the memo empty and rebuilds from the reference (the dataset from its batch ids, checked
against its version; the candidate from the registry).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evergreen.data.dataset import Dataset, assemble_dataset, feature_kinds, split_holdout
from evergreen.errors import DataValidationError
from evergreen.overrides import with_overrides
from evergreen.pipeline.refs import DatasetRef
from evergreen.pipeline.stop import StopFlag
from evergreen.project import Project
from evergreen.store.locks import LeaseLock
from evergreen.store.runs import get_run, update_run
from evergreen.training.preprocessing import FeatureKinds

ProgressFn = Callable[[str, dict[str, Any]], None]


def _noop(_event: str, _data: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Split:
    """The dataset's seeded train / holdout split and its feature columns."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    kinds: FeatureKinds


@dataclass
class StageContext:
    """``project`` carries the settings in force (file + run-time overrides) when the context opened.

    ``alerts``: whether ``notify`` evaluates alerts (an orchestrator's run has no one else to do it;
    the embedded callers do it themselves, the scheduler together with its monitoring pass).
    """

    project: Project
    progress: ProgressFn = _noop
    alerts: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # registered version -> fitted model
    lease: LeaseLock | None = None  # the retrain lock this process holds for the run, if any
    stop: StopFlag | None = None  # set by SIGTERM: the run ends at the next safe point
    _step: tuple[str, str, float] | None = None  # (run id, step, start)

    @classmethod
    def open(
        cls, project: Project, *, progress: ProgressFn | None = None, alerts: bool = False
    ) -> StageContext:
        return cls(with_overrides(project), progress or _noop, alerts)

    # ---- steps: the run row's ``step`` column, progress events and timings -------------------
    def begin(self, run_id: str | None, step: str) -> None:
        """Start timing ``step`` (ending the one before); shown on the run row and to the progress."""
        self.end()
        if run_id is None:
            return
        update_run(self.project.store, run_id, step=step)
        self.progress("step", {"step": step, "run_id": run_id})
        self._step = (run_id, step, time.perf_counter())

    def end(self) -> None:
        """Record the current step's duration on the run row (merged with what is stored)."""
        if self._step is None:
            return
        run_id, step, start = self._step
        self._step = None
        self.timings[step] = time.perf_counter() - start
        stored = dict(get_run(self.project.store, run_id).get("timings") or {})
        update_run(self.project.store, run_id, timings={**stored, **self.timings})

    def abort(self) -> None:
        """Drop the current step's timing (it failed: it has no duration to report)."""
        self._step = None

    def fence(self, before: str) -> None:
        """Prove the retrain lease is still this process's before an act others could see
        (registering a version, moving the alias); :class:`LeaseLostError` otherwise."""
        if self.stop is not None:
            self.stop.check(before)
        if self.lease is not None:
            self.lease.confirm(before)

    # ---- the memo ----------------------------------------------------------------------------
    def dataset(self, ref: DatasetRef) -> Dataset:
        """The run's dataset: from the memo, or rebuilt from its batch ids and checked."""
        ds = self.datasets.get(ref.dataset_version)
        if ds is None:
            ds = assemble_dataset(
                self.project.settings, self.project.store, as_of=ref.as_of, batch_ids=list(ref.batch_ids)
            )
            if ds.version != ref.dataset_version:
                raise DataValidationError(
                    f"dataset {ref.dataset_version} could not be rebuilt (got {ds.version})",
                    reason="dataset_changed",
                )
            self.datasets[ds.version] = ds
        return ds

    def split(self, ref: DatasetRef) -> Split:
        s = self.project.settings
        ds = self.dataset(ref)
        train, holdout = split_holdout(ds, s.training.holdout_fraction, s.training.seed, s.task)
        return Split(train, holdout, FeatureKinds(*feature_kinds(ds.contract)))

    def model(self, version: str) -> Any:
        """A registered version's model: the fitted object when this process trained it, else loaded."""
        model = self.models.get(version)
        return model if model is not None else self.project.registry.load_model(version)
