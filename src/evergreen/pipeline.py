"""One retrain run: lock → ingest → dataset → train → evaluate → decide → promote.

The decision itself is the pure :func:`evergreen.evaluation.policy.decide`; this module only reads
its inputs and writes its outcome. The ``champion`` alias is the last thing a run touches, so a run
that fails at any earlier step leaves the champion, and the served model, exactly as they were.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from evergreen.champion import move_champion
from evergreen.data.dataset import Dataset, assemble_dataset, feature_kinds, split_holdout
from evergreen.data.ingest import IngestResult, ingest_landing
from evergreen.errors import DataValidationError, one_line
from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.holdout import compare_on_holdout, score_champion, score_on_holdout
from evergreen.evaluation.policy import Decision, ModelScore, Policy, decide
from evergreen.overrides import with_overrides
from evergreen.project import Project
from evergreen.registry import CHAMPION, TAG_PREFIX
from evergreen.store.audit import record_action
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.runs import (
    create_run,
    finish_run,
    get_run,
    mark_abandoned,
    record_decision,
    update_run,
)
from evergreen.training import MLFLOW_SERIALIZATION_FORMAT, skops_trusted_types
from evergreen.training.fit import TrainingResult, train_candidates
from evergreen.training.preprocessing import FeatureKinds
from evergreen.training.signature import signature_example

ProgressFn = Callable[[str, dict[str, Any]], None]


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
    status: str  # promoted | rejected | pending_approval | skipped | failed
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


lock_name = retrain_lock_name


def _noop(_event: str, _data: dict[str, Any]) -> None:
    return None


# ---- shared with the orchestrator steps (evergreen.triggers.steps) -------------------------------
# RetrainRunner runs these in one process under one lock; the steps run them one per task. Both
# paths call the same functions, so they record, decide and promote the same way.


def record_dataset(
    project: Project, run_id: str, dataset: Dataset, champion_version: str | None, **details: Any
) -> None:
    """Fix the run's dataset (and the batch ids and ``as_of`` that rebuild it) and its champion."""
    update_run(
        project.store,
        run_id,
        dataset_version=dataset.version,
        data_size=dataset.rows,
        champion_version=champion_version,
        details={"batch_ids": list(dataset.batch_ids), "as_of": dataset.as_of.isoformat(), **details},
    )


def unchanged_dataset_reason(
    project: Project, champion_version: str | None, dataset_version: str
) -> str | None:
    """Why to skip when the champion was trained on this very dataset; None when there is something new."""
    if champion_version is None or project.registry.get_version(champion_version).dataset_version != (
        dataset_version
    ):
        return None
    return (
        f"dataset version {dataset_version} is the one champion v{champion_version} was trained on; "
        "nothing new to learn (use --force to retrain anyway)"
    )


def start_parent_run(project: Project, run_id: str, trigger: str, dataset_version: str) -> str:
    """The MLflow parent run of a retrain, recorded on the pipeline run."""
    parent = project.registry.start_run(
        f"retrain-{run_id}",
        tags={
            TAG_PREFIX + "run_id": run_id,
            TAG_PREFIX + "trigger": trigger,
            TAG_PREFIX + "dataset_version": dataset_version,
            "auto_trained": str(trigger != "manual").lower(),
        },
    )
    update_run(project.store, run_id, mlflow_run_id=parent)
    return parent


def log_dataset(project: Project, mlflow_run: str, dataset: Dataset) -> None:
    s = project.settings
    project.registry.log_dataset(
        mlflow_run,
        name=f"{s.project}-{dataset.version}",
        digest=dataset.version,
        source=str(s.storage.data_dir),
        frame=dataset.frame,
        target=s.data.target,
    )


def log_candidates(
    project: Project, parent: str, result: TrainingResult, run_id: str, dataset: Dataset
) -> tuple[str, list[dict[str, Any]]]:
    """One child MLflow run per candidate; returns the winner's run and the candidates' summaries."""
    reg = project.registry
    winner_run = ""
    candidates: list[dict[str, Any]] = []
    for c in result.candidates:
        child = reg.start_run(
            c.name,
            tags={
                TAG_PREFIX + "run_id": run_id,
                TAG_PREFIX + "candidate": c.name,
                TAG_PREFIX + "candidate_status": c.status,
            },
            parent_run_id=parent,
        )
        reg.log(
            child,
            metrics={
                **c.val_metrics,
                "training_time_seconds": c.fit_seconds,
                "data_size": float(result.training_rows),
            },
            params={"candidate": c.name, **c.params},
            tags={"error": c.error} if c.error else None,
        )
        log_dataset(project, child, dataset)
        reg.end_run(child, status="FINISHED" if c.status == "ok" else "FAILED")
        if c.name == result.best_name:
            winner_run = child
        candidates.append(
            {
                "name": c.name,
                "status": c.status,
                "fit_seconds": round(c.fit_seconds, 3),
                "val_metrics": c.val_metrics,
                "error": c.error,
                "winner": c.name == result.best_name,
            }
        )
    names = ",".join(x.name for x in result.candidates)
    reg.log(
        parent,
        params={"winner": result.best_name, "candidates": names},
        metrics={"data_size": float(dataset.rows), "training_time_seconds": result.fit_seconds_total},
    )
    return winner_run, candidates


def register_candidate(
    project: Project,
    run_id: str,
    trigger: str,
    dataset_version: str,
    winner_run: str,
    result: TrainingResult,
    example: pd.DataFrame,
) -> tuple[str, float]:
    """Register the winner as a new model version (its decision still to come); (version, size in MB)."""
    return project.registry.register_model(
        winner_run,
        result.model,
        example,
        tags={
            TAG_PREFIX + "run_id": run_id,
            TAG_PREFIX + "dataset_version": dataset_version,
            TAG_PREFIX + "trigger": trigger,
            TAG_PREFIX + "candidate": result.best_name,
        },
        serialization_format=MLFLOW_SERIALIZATION_FORMAT,
        trusted_types=skops_trusted_types(result.model),
    )


def decide_and_record(
    project: Project,
    run_id: str,
    parent: str,
    cand: ModelScore,
    champ: ModelScore | None,
    comparison: BootstrapResult | None,
    champion_version: str | None,
    champion_error: str | None,
) -> Decision:
    """The pure policy on the scores; the decision is tagged, logged and recorded, not yet acted on."""
    s, reg = project.settings, project.registry
    decision = decide(
        cand,
        champ,
        Policy.from_config(s.promotion, s.promotion_metric),
        comparison,
        champion_error=champion_error,
    )
    version = cand.version
    assert version is not None
    champion_metrics = champ.metrics if champ else {}
    reg.tag_version(
        version,
        {TAG_PREFIX + "decision": decision.outcome, TAG_PREFIX + "reason": decision.justification[:5000]},
    )
    reg.log(
        parent,
        metrics={f"candidate_{k}": v for k, v in cand.metrics.items()}
        | {f"champion_{k}": v for k, v in champion_metrics.items()},
        tags={TAG_PREFIX + "decision": decision.outcome, TAG_PREFIX + "candidate_version": version},
    )
    dd = decision.to_dict()
    record_decision(
        project.store,
        run_id,
        outcome=decision.outcome,
        metric=decision.metric,
        candidate_version=version,
        champion_version=champion_version,
        candidate_metrics=cand.metrics,
        champion_metrics=champion_metrics,
        deltas=dd.get("deltas"),
        ci_low=decision.ci_low,
        ci_high=decision.ci_high,
        checks=dd["checks"],
        justification=decision.justification,
    )
    return decision


def apply_decision(
    project: Project, outcome: str, justification: str, version: str, champion_version: str | None
) -> None:
    """Move the champion alias if the decision promoted; audit the decision either way."""
    if outcome == "promoted":
        # The alias moves last: everything before it can fail without touching serving.
        move_champion(
            project,
            version,
            actor="system",
            action="promote",
            reason=justification,
            record_decision_row=False,  # decide_and_record wrote the policy's decision
        )
        return
    record_action(
        project.store,
        actor="system",
        action=outcome,
        target=f"version:{version}",
        reason=justification,
        before={"champion": champion_version},
        after={"champion": champion_version},
    )


def finish_with_reason(
    project: Project,
    run_id: str,
    status: str,
    reason: str,
    details: dict[str, Any] | None = None,
    **values: Any,
) -> None:
    """Finish the run, keeping the details recorded so far and adding ``details`` and the reason."""
    existing = get_run(project.store, run_id).get("details") or {}
    finish_run(
        project.store, run_id, status, details={**existing, **(details or {}), "reason": reason}, **values
    )


def record_failure(
    project: Project,
    run_id: str,
    exc: BaseException,
    timings: dict[str, float] | None,
    candidate_version: str | None,
) -> str:
    """Mark the run failed (with the traceback) and its candidate rejected; returns the one-line message."""
    msg = one_line(exc, with_code=True)
    try:
        finish_run(
            project.store,
            run_id,
            "failed",
            timings=timings,
            error=msg + "\n" + "".join(traceback.format_exception(exc))[-4000:],
        )
        if candidate_version:
            project.registry.tag_version(
                candidate_version,
                {TAG_PREFIX + "decision": "rejected", TAG_PREFIX + "reason": f"run failed: {msg}"},
            )
    except Exception:  # the original error matters more than a failed bookkeeping write
        pass
    return msg


class RetrainRunner:
    """Runs one retrain for a project; all reads and writes live here, decisions do not."""

    def __init__(self, project: Project, progress: ProgressFn | None = None) -> None:
        self.project = project
        self._base = project  # as loaded; the run-time threshold overrides are re-read at every run
        self.progress = progress or _noop

    def run(self, request: RetrainRequest) -> RetrainOutcome:
        # Thresholds changed at run time (settings_overrides) apply from this run's decision on.
        p = self.project = with_overrides(self._base)
        lock = LeaseLock(p.store, lock_name(p.settings.project)).acquire()
        try:
            # We hold the lock, so any run still marked running belongs to a dead process.
            abandoned = mark_abandoned(p.store, lock_free=True)
            run_id = create_run(p.store, trigger=request.trigger, reason=request.reason, actor=request.actor)
            lock.set_run(run_id)
            outcome = RetrainOutcome(run_id=run_id, status="running", reason="", abandoned=abandoned)
            try:
                self._run_steps(request, outcome)
            except BaseException as exc:
                self._fail(outcome, exc)
                raise
            return outcome
        finally:
            lock.release()

    # ---- steps -------------------------------------------------------------------------------
    def _step(self, outcome: RetrainOutcome, name: str) -> float:
        update_run(self.project.store, outcome.run_id, step=name)
        self.progress("step", {"step": name, "run_id": outcome.run_id})
        return time.perf_counter()

    def _run_steps(self, request: RetrainRequest, outcome: RetrainOutcome) -> None:
        p, s = self.project, self.project.settings
        t = self._step(outcome, "ingest")
        ingested: list[IngestResult] = ingest_landing(s, p.store)
        outcome.ingested = [asdict(r) for r in ingested]
        outcome.timings["ingest"] = time.perf_counter() - t

        t = self._step(outcome, "dataset")
        try:
            dataset = assemble_dataset(s, p.store, as_of=request.as_of)
        except DataValidationError as exc:
            if exc.reason == "no_training_data":
                self._finish(outcome, "skipped", f"no labelled data to train on: {exc.message}")
                return
            raise
        outcome.dataset_version, outcome.data_size = dataset.version, dataset.rows
        outcome.timings["dataset"] = time.perf_counter() - t
        outcome.champion_version = p.registry.version_by_alias(CHAMPION)
        record_dataset(p, outcome.run_id, dataset, outcome.champion_version)
        if not request.force:
            unchanged = unchanged_dataset_reason(p, outcome.champion_version, dataset.version)
            if unchanged:
                self._finish(outcome, "skipped", unchanged)
                return

        train, holdout = split_holdout(dataset, s.training.holdout_fraction, s.training.seed, s.task)
        kinds = FeatureKinds(*feature_kinds(dataset.contract))
        self._train_and_decide(request, outcome, dataset, train, holdout, kinds)

    def _train_and_decide(
        self,
        request: RetrainRequest,
        outcome: RetrainOutcome,
        dataset: Dataset,
        train: pd.DataFrame,
        holdout: pd.DataFrame,
        kinds: FeatureKinds,
    ) -> None:
        p, s, reg = self.project, self.project.settings, self.project.registry
        run_id, champion_version = outcome.run_id, outcome.champion_version
        parent = start_parent_run(p, run_id, request.trigger, dataset.version)
        try:
            log_dataset(p, parent, dataset)
            t = self._step(outcome, "train")
            result = train_candidates(
                train, s.data.target, kinds, s.task, s.training, s.selection_metric, on_event=self.progress
            )
            outcome.fit_seconds = result.fit_seconds_total
            outcome.timings["train"] = time.perf_counter() - t
            winner_run, outcome.candidates = log_candidates(p, parent, result, run_id, dataset)

            t = self._step(outcome, "evaluate")
            cand = score_on_holdout(result.model, None, holdout, s, kinds.columns)
            champ, champ_error = score_champion(reg.load_model, champion_version, holdout, s, kinds.columns)
            comparison = compare_on_holdout(s, cand, champ, holdout)
            outcome.timings["evaluate"] = time.perf_counter() - t

            t = self._step(outcome, "register")
            # In the users' types (integers as long): plain MLflow clients predict on their own frames.
            example = signature_example(train[list(kinds.columns)], dataset.contract)
            version, size_mb = register_candidate(
                p, run_id, request.trigger, dataset.version, winner_run, result, example
            )
            outcome.candidate_version = version
            reg.log(
                winner_run,
                metrics={
                    "model_size_mb": size_mb,
                    **{f"holdout_{k}": v for k, v in cand.score.metrics.items()},
                },
            )
            update_run(p.store, run_id, candidate_version=version)
            outcome.timings["register"] = time.perf_counter() - t

            t = self._step(outcome, "decide")
            decision = decide_and_record(
                p,
                run_id,
                parent,
                ModelScore(version=version, metrics=cand.score.metrics, slices=cand.score.slices),
                champ.score if champ else None,
                comparison,
                champion_version,
                champ_error,
            )
            outcome.candidate_metrics = cand.score.metrics
            outcome.champion_metrics = champ.score.metrics if champ else {}
            outcome.decision = decision.to_dict()
            apply_decision(p, decision.outcome, decision.justification, version, champion_version)
            self._finish(outcome, decision.outcome, decision.justification, decision=decision.outcome)
            outcome.timings["decide"] = time.perf_counter() - t
            reg.end_run(parent)
        except BaseException:
            reg.end_run(parent, status="FAILED")
            raise

    def _finish(self, outcome: RetrainOutcome, status: str, reason: str, **values: Any) -> None:
        outcome.status, outcome.reason = status, reason
        finish_with_reason(
            self.project,
            outcome.run_id,
            status,
            reason,
            {"candidates": outcome.candidates, "fit_seconds": outcome.fit_seconds},
            timings=outcome.timings,
            error=None,
            **values,
        )
        self.progress("finished", {"run_id": outcome.run_id, "status": status, "reason": reason})

    def _fail(self, outcome: RetrainOutcome, exc: BaseException) -> None:
        outcome.status = "failed"
        outcome.reason = record_failure(
            self.project, outcome.run_id, exc, outcome.timings, outcome.candidate_version
        )
