"""The embedded retrain: one process, one lock, every stage of :data:`~evergreen.pipeline.stages.STAGES`.

The scheduler, the CLI and the control layer run retrains through :class:`RetrainRunner`; an
orchestrator runs the same stages one task at a time (:mod:`evergreen.pipeline.tasks`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from evergreen.errors import LeaseLostError, RunStoppedError
from evergreen.pipeline.context import ProgressFn, StageContext
from evergreen.pipeline.records import fail_run
from evergreen.pipeline.refs import DatasetRef, Decided, Evaluated, Finished, RunOrder, StageRef, Trained
from evergreen.pipeline.stages import INGEST_STEP, STAGES, ingest, run_stage
from evergreen.pipeline.stop import StopFlag
from evergreen.project import Project
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.runs import create_run, mark_abandoned


@dataclass(frozen=True)
class RetrainRequest:
    trigger: str = "manual"
    reason: str | None = None
    actor: str | None = None
    as_of: datetime | None = None
    force: bool = False


@dataclass
class RetrainOutcome:
    run_id: str
    status: str  # promoted | rejected | pending_approval | skipped | failed | abandoned (lease lost)
    reason: str
    dataset_version: str | None = None
    data_size: int | None = None
    candidate_version: str | None = None
    champion_version: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    ingested: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0
    abandoned: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def take(self, ref: StageRef) -> None:
        """Copy what a stage's output tells about the run."""
        if isinstance(ref, DatasetRef):
            self.dataset_version, self.data_size = ref.dataset_version, ref.rows
            self.champion_version = ref.champion_version
        elif isinstance(ref, Trained):
            self.candidate_version = ref.candidate_version
            self.candidates = [c.to_dict() for c in ref.candidates]
            self.fit_seconds = ref.fit_seconds
        elif isinstance(ref, Evaluated):
            self.candidate_metrics = dict(ref.candidate.metrics)
            self.champion_metrics = dict(ref.champion.metrics) if ref.champion else {}
        elif isinstance(ref, Decided):
            self.decision = dict(ref.decision)
        elif isinstance(ref, Finished):
            self.status, self.reason = ref.status, ref.reason


class RetrainRunner:
    """Runs one retrain for a project under the project's retrain lock."""

    def __init__(
        self, project: Project, progress: ProgressFn | None = None, stop: StopFlag | None = None
    ) -> None:
        self.project = project  # as loaded: the run-time threshold overrides are re-read at every run
        self.progress = progress
        self.stop = stop  # SIGTERM's flag (the scheduler's): checked between stages

    def run(self, request: RetrainRequest, lock: LeaseLock | None = None) -> RetrainOutcome:
        """``lock``: the retrain lock, already acquired by the caller (who asked on another thread),
        released here at the end; else this run acquires it."""
        # Thresholds changed at run time (settings_overrides) apply from this run on.
        ctx = StageContext.open(self.project, progress=self.progress)
        p = ctx.project
        lock = lock or LeaseLock(p.store, retrain_lock_name(p.settings.project)).acquire()
        try:
            # We hold the lock, so any run still marked running belongs to a dead process.
            abandoned = mark_abandoned(p.store, lock_free=True)
            run_id = create_run(p.store, trigger=request.trigger, reason=request.reason, actor=request.actor)
            lock.set_run(run_id)
            ctx.lease, ctx.stop = lock, self.stop
            outcome = RetrainOutcome(run_id=run_id, status="running", reason="", abandoned=abandoned)
            try:
                self._run_stages(ctx, request, outcome)
            except BaseException as exc:
                ctx.abort()
                stopped = isinstance(exc, LeaseLostError | RunStoppedError)
                outcome.status = "abandoned" if stopped else "failed"
                outcome.reason = fail_run(p, run_id, exc) or outcome.reason
                outcome.timings = dict(ctx.timings)
                raise
            return outcome
        finally:
            lock.release()

    def _run_stages(self, ctx: StageContext, request: RetrainRequest, outcome: RetrainOutcome) -> None:
        run_id = outcome.run_id
        ctx.begin(run_id, INGEST_STEP)
        outcome.ingested = [asdict(r) for r in ingest(ctx).results]
        ctx.end()
        ref: StageRef = RunOrder(
            trigger=request.trigger,
            reason=request.reason,
            actor=request.actor,
            force=request.force,
            as_of=request.as_of,
            run_id=run_id,
        )
        for stage in STAGES:
            ref = run_stage(ctx, stage, ref)
            outcome.take(ref)
            outcome.timings = dict(ctx.timings)
