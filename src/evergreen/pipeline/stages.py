"""The retrain's stages, declared once in :data:`STAGES`: dataset → train → evaluate → decide →
promote → notify. Ingest (:data:`INGEST`) comes before them: the embedded runner ingests inside its
run; an orchestrator ingests first and then checks its triggers (``evergreen.triggers.check``).

Each stage is a function ``(StageContext, input reference) -> output reference`` (see
:mod:`evergreen.pipeline.refs`). A :class:`~evergreen.pipeline.refs.Finished` run (skipped, or
decided and promoted) passes through the stages after it; only ``notify`` acts on it. The runner,
the Airflow tasks and the Prefect tasks all run this one list; :func:`run_stage` is what they call.
The ``champion`` alias is the last thing a run touches (``promote``), so a run that fails at any
earlier stage leaves the champion, and the served model, exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from evergreen.champion import AUTOMATED_WAIT_SECONDS, acquire_models_lease, move_champion
from evergreen.data.dataset import Dataset, assemble_dataset
from evergreen.data.ingest import IngestResult
from evergreen.data.landing import ingest_landing
from evergreen.errors import DataValidationError, RegistryError, one_line
from evergreen.evaluation.holdout import compare_on_holdout, score_champion, score_on_holdout
from evergreen.evaluation.policy import ModelScore
from evergreen.logs import get_logger
from evergreen.pipeline.change import assess_change, evaluation_holdout
from evergreen.pipeline.context import StageContext
from evergreen.pipeline.records import (
    decide_and_record,
    finish_with_reason,
    log_candidates,
    log_dataset,
    record_dataset,
    register_candidate,
    start_parent_run,
    unchanged_dataset_reason,
)
from evergreen.pipeline.refs import (
    DatasetRef,
    Decided,
    Evaluated,
    Finished,
    RunOrder,
    RunStatus,
    StageRef,
    Summary,
    Trained,
)
from evergreen.registry import CHAMPION, TAG_PREFIX
from evergreen.store.audit import record_action
from evergreen.store.requests import DONE, mark_requests
from evergreen.store.runs import get_run, update_run
from evergreen.training.fit import train_candidates
from evergreen.training.signature import signature_example

log = get_logger("evergreen.pipeline")


@dataclass(frozen=True)
class Ingested:
    """What ingest took in: the accepted batch ids, the quarantined files, every file's result."""

    batch_ids: tuple[int, ...]
    quarantined: tuple[str, ...]
    results: tuple[IngestResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"batch_ids": list(self.batch_ids), "quarantined": list(self.quarantined)}


INGEST_STEP = "ingest"


def ingest(ctx: StageContext) -> Ingested:
    """Validate, scrub and snapshot the landing directory's files (bad files are quarantined)."""
    results = tuple(ingest_landing(ctx.project.settings, ctx.project.store))
    return Ingested(
        batch_ids=tuple(r.batch_id for r in results if r.status == "accepted" and r.batch_id is not None),
        quarantined=tuple(Path(r.source).name for r in results if r.status == "quarantined"),
        results=results,
    )


def _finish(ctx: StageContext, run_id: str, status: RunStatus, reason: str, **values: Any) -> Finished:
    finish_with_reason(ctx.project, run_id, status, reason, error=None, **values)
    ctx.progress("finished", {"run_id": run_id, "status": status, "reason": reason})
    return Finished(run_id, status, reason, values.get("candidate_version"))


# ---- the stages ----------------------------------------------------------------------------------
def dataset(ctx: StageContext, order: RunOrder) -> DatasetRef | Finished:
    """Fix the run's dataset; skipped when there is no labelled data or the champion has this one."""
    p = ctx.project
    run_id = order.run_id
    assert run_id is not None, "the driver opens the run before its first stage"
    try:
        ds = assemble_dataset(p.settings, p.store, as_of=order.as_of)
    except DataValidationError as exc:
        if exc.reason == "no_training_data":
            reason = f"no labelled data to train on: {exc.message}"
            return _finish(ctx, run_id, "skipped", reason, details={"candidates": [], "fit_seconds": 0.0})
        raise
    champion = p.registry.version_by_alias(CHAMPION)
    extra = {"request_ids": list(order.request_ids)} if order.request_ids else {}
    skipped = _fix_dataset(ctx, order, ds, champion, extra)
    if skipped is not None:
        return skipped
    # After a change of concept: judge on the newest data's holdout rows (maybe train on them).
    narrowed, basis = assess_change(ctx, ds, champion, order.trigger)
    if narrowed.version != ds.version:
        skipped = _fix_dataset(ctx, order, narrowed, champion, extra)
        if skipped is not None:
            return skipped
    return DatasetRef(
        run_id,
        order.trigger,
        narrowed.version,
        narrowed.batch_ids,
        narrowed.as_of,
        narrowed.rows,
        champion,
        basis,
    )


def _fix_dataset(
    ctx: StageContext, order: RunOrder, ds: Dataset, champion: str | None, extra: dict[str, Any]
) -> Finished | None:
    """Record ``ds`` as the run's dataset; the run is skipped when the champion has this one."""
    assert order.run_id is not None
    ctx.datasets[ds.version] = ds
    record_dataset(ctx.project, order.run_id, ds, champion, **extra)
    unchanged = None if order.force else unchanged_dataset_reason(ctx.project, champion, ds.version)
    if unchanged:
        return _finish(
            ctx, order.run_id, "skipped", unchanged, details={"candidates": [], "fit_seconds": 0.0}
        )
    return None


def train(ctx: StageContext, ref: DatasetRef) -> Trained:
    """Fit the candidates, log each as a child MLflow run, register the winner (decision pending)."""
    p, s = ctx.project, ctx.project.settings
    ds = ctx.dataset(ref)
    split = ctx.split(ref)
    parent = start_parent_run(p, ref.run_id, ref.trigger, ds.version)
    log_dataset(p, parent, ds)
    if ctx.stop is not None:
        ctx.stop.check("the candidates' fitting")
    # The one phase a stop cuts short: nothing outside this process has seen the fits yet.
    result = train_candidates(
        split.train,
        s.data.target,
        split.kinds,
        s.task,
        s.training,
        s.selection_metric,
        on_event=ctx.progress,
        stop=ctx.stop.requested if ctx.stop is not None else None,
    )
    winner_run, candidates = log_candidates(p, parent, result, ref.run_id, ds)
    existing = get_run(p.store, ref.run_id).get("details") or {}
    details = {
        **existing,
        "candidates": [c.to_dict() for c in candidates],
        "fit_seconds": result.fit_seconds_total,
    }
    update_run(p.store, ref.run_id, details=details)

    ctx.begin(ref.run_id, "register")
    # In the users' types (integers as long): plain MLflow clients predict on their own frames.
    example = signature_example(split.train[list(split.kinds.columns)], ds.contract)
    ctx.fence("registering the candidate")
    version, size_mb = register_candidate(p, ref.run_id, ref.trigger, ds.version, winner_run, result, example)
    ctx.models[version] = result.model
    p.registry.log(winner_run, metrics={"model_size_mb": size_mb})
    # Also on the version: the dashboard's Models page shows it without opening each MLflow run.
    p.registry.tag_version(version, {TAG_PREFIX + "model_size_mb": f"{size_mb:.3f}"})
    update_run(p.store, ref.run_id, candidate_version=version)
    return Trained(ref, version, parent, winner_run, result.best_name, candidates, result.fit_seconds_total)


def evaluate(ctx: StageContext, ref: Trained) -> Evaluated:
    """Score the candidate and the champion on the same holdout; the paired bootstrap of the delta."""
    p, s = ctx.project, ctx.project.settings
    split = ctx.split(ref.dataset)
    columns = split.kinds.columns
    holdout = evaluation_holdout(ctx.dataset(ref.dataset), split.holdout, ref.dataset.basis, s)
    cand = score_on_holdout(ctx.model(ref.candidate_version), ref.candidate_version, holdout, s, columns)
    champion = ref.dataset.champion_version
    champ, champ_error = score_champion(ctx.model, champion, holdout, s, columns)
    comparison = compare_on_holdout(s, cand, champ, holdout)
    p.registry.log(ref.winner_run, metrics={f"holdout_{k}": v for k, v in cand.score.metrics.items()})
    return Evaluated(ref, cand.score, champ.score if champ else None, champ_error, comparison)


def decide(ctx: StageContext, ref: Evaluated) -> Decided:
    """The pure policy on the evaluation's numbers, under the thresholds in force (file + overrides)."""
    trained = ref.trained
    decision = decide_and_record(
        ctx.project,
        trained.run_id,
        trained.mlflow_run_id,
        ModelScore(trained.candidate_version, dict(ref.candidate.metrics), dict(ref.candidate.slices)),
        ref.champion,
        ref.comparison,
        trained.dataset.champion_version,
        ref.champion_error,
        trained.dataset.basis,
    )
    return Decided(ref, decision.outcome, decision.justification, decision.to_dict())


def promote(ctx: StageContext, ref: Decided) -> Finished:
    """Move the champion if the decision promoted (last: nothing earlier touches serving); finish.

    The check and the move happen under the models lease, which a person's promote, approve and
    rollback hold too. If a person moved the champion while this run trained, the decision compared
    the candidate with a model that no longer serves: it is taken again against the one that does,
    on the same holdout, before anything moves.
    """
    p = ctx.project
    trained = ref.evaluated.trained
    version = trained.candidate_version
    if ref.outcome != "promoted":
        _record_not_promoted(ctx, ref, trained.dataset.champion_version)
        return _finish_decided(ctx, ref)
    ctx.fence("moving the champion alias")
    stop = ctx.stop.requested if ctx.stop is not None else None
    lease = acquire_models_lease(p, wait_seconds=AUTOMATED_WAIT_SECONDS, stop=stop)
    try:
        current = p.registry.version_by_alias(CHAMPION)
        if current == version:  # a person promoted this very candidate meanwhile: nothing to move
            reason = f"{ref.justification}; v{version} was already made the champion by hand during the run"
            p.registry.end_run(trained.mlflow_run_id)
            return _finish(ctx, trained.run_id, "promoted", reason, decision="promoted")
        # Again once the lease is ours: the wait may have been long (a stop asked for meanwhile, the
        # retrain lease taken over after failed heartbeats), and the fence must be the last word.
        ctx.fence("moving the champion alias")
        if current != trained.dataset.champion_version:
            log.info(
                "champion_changed_during_run",
                run_id=trained.run_id,
                decided_against=trained.dataset.champion_version,
                champion=current,
            )
            again = replace(trained, dataset=replace(trained.dataset, champion_version=current))
            ref = decide(ctx, evaluate(ctx, again))
            ctx.fence("moving the champion alias")
        if ref.outcome == "promoted":
            # decide_and_record wrote the policy's decision row; the move adds alias, tags, NOTIFY, audit.
            move_champion(
                p,
                version,
                actor="system",
                action="promote",
                reason=ref.justification,
                record_decision_row=False,
            )
        else:
            _record_not_promoted(ctx, ref, current)
    finally:
        lease.release()
    return _finish_decided(ctx, ref)


def _record_not_promoted(ctx: StageContext, ref: Decided, champion: str | None) -> None:
    record_action(
        ctx.project.store,
        actor="system",
        action=ref.outcome,
        target=f"version:{ref.evaluated.trained.candidate_version}",
        reason=ref.justification,
        before={"champion": champion},
        after={"champion": champion},
    )


def _finish_decided(ctx: StageContext, ref: Decided) -> Finished:
    trained = ref.evaluated.trained
    ctx.project.registry.end_run(trained.mlflow_run_id)
    return _finish(ctx, trained.run_id, ref.outcome, ref.justification, decision=ref.outcome)


def notify(ctx: StageContext, ref: Finished) -> Summary:
    """Close the manual requests the run served; hand the outcome to the alerting layer."""
    p = ctx.project
    run = get_run(p.store, ref.run_id)
    request_ids = (run.get("details") or {}).get("request_ids", [])
    mark_requests(p.store, request_ids, DONE, run_id=run["id"], result=f"{run['status']}: {ref.reason}")
    try:
        champion = p.registry.version_by_alias(CHAMPION)
    except RegistryError as exc:  # the run has ended: an outage now only leaves the summary short
        log.warning("champion_unreadable", run_id=run["id"], error=one_line(exc))
        champion = None
    summary = Summary(
        run_id=run["id"],
        status=run["status"],
        reason=ref.reason,
        trigger=run["trigger"],
        candidate_version=run["candidate_version"],
        champion_version=champion,
    )
    if ctx.alerts:
        try:
            from evergreen.alerts import raise_alerts

            # Facts come from the store (the run, the decision, the aliases): promotion, pending approval.
            raise_alerts(p)
        except Exception as exc:  # a failed notification must not turn a finished run into a failure
            log.warning("notify_failed", error=one_line(exc))
    log.info("retrain_finished", **asdict(summary))
    return summary


# ---- the list ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[StageContext, Any], StageRef]
    takes: tuple[type, ...]  # the reference types it acts on (anything else passes through)
    holds_lock: bool = True  # runs under the project's retrain lock (an orchestrator task takes it)


STAGES: tuple[Stage, ...] = (
    Stage("dataset", dataset, (RunOrder,)),
    Stage("train", train, (DatasetRef,)),
    Stage("evaluate", evaluate, (Trained,)),
    Stage("decide", decide, (Evaluated,)),
    Stage("promote", promote, (Decided,)),
    Stage("notify", notify, (Finished,), holds_lock=False),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def stage_named(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(f"no retrain stage {name!r} (stages: {', '.join(STAGE_NAMES)})")


def acts_on(stage: Stage, ref: StageRef) -> bool:
    """Whether ``stage`` works on ``ref``; a finished run passes through every stage but notify."""
    return isinstance(ref, stage.takes)


def run_stage(ctx: StageContext, stage: Stage, ref: StageRef) -> StageRef:
    """Run one stage on ``ref`` (or pass it through), timed and shown as the run's step."""
    if not acts_on(stage, ref):
        return ref
    run_id = getattr(ref, "run_id", None)
    if ctx.stop is not None and stage.holds_lock:  # between stages: stop here if asked to
        ctx.stop.check(f"the {stage.name} stage")
    ctx.begin(run_id, stage.name)
    try:
        out = stage.run(ctx, ref)
    except BaseException:
        ctx.abort()
        raise
    ctx.end()
    return out
