"""The retrain as separate steps, for orchestrators (Airflow, Prefect): same work as ``RetrainRunner``,
done by the same functions of :mod:`evergreen.pipeline`, only split where a step boundary falls.

ingest → check triggers → assemble dataset → train → evaluate → decide → promote → notify.

Steps pass small JSON references (a run id, a dataset version with the batch ids and ``as_of`` that
rebuild it, a registered model version, metric dicts), never frames or models: a step may run in
another process or on another worker, so each one opens the project from the config path again. The
dataset is rebuilt from its batch ids (assembly is deterministic and checked against the version),
and the candidate travels as a registered MLflow version tagged ``pending`` until decided.

New files are ingested before the triggers are checked, because the new-data trigger counts rows
that have been ingested. The orchestrator owns the cron, so ``triggers.schedule`` is not evaluated
here. Each step takes the project's retrain lock while it works, so an embedded scheduler or a CLI
retrain never runs a step at the same time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from evergreen.data.dataset import assemble_dataset, feature_kinds, split_holdout
from evergreen.data.ingest import ingest_landing
from evergreen.errors import DataValidationError
from evergreen.pipeline import (
    log_candidates,
    log_dataset,
    record_dataset,
    register_candidate,
    start_parent_run,
    unchanged_dataset_reason,
)
from evergreen.registry import CHAMPION
from evergreen.store.requests import RUNNING, mark_requests
from evergreen.store.runs import create_run, get_run, mark_abandoned, update_run
from evergreen.training.fit import train_candidates
from evergreen.training.preprocessing import FeatureKinds
from evergreen.triggers.evaluate import evaluate
from evergreen.triggers.execute import retrain_request
from evergreen.triggers.state import gather_state
from evergreen.triggers.stepbase import Ref, finish, locked, open_config, rebuild_dataset, run_step
from evergreen.triggers.steps_outcome import decide_candidate, evaluate_candidate, notify, promote

STEP_NAMES = ("ingest", "check_triggers", "assemble", "train", "evaluate", "decide", "promote", "notify")


# ---- 1-2: ingest, check triggers ---------------------------------------------------------------------
def ingest(config_path: str) -> Ref:
    project = open_config(config_path)
    results = ingest_landing(project.settings, project.store)
    return {
        "batch_ids": [r.batch_id for r in results if r.status == "accepted"],
        "quarantined": [Path(r.source).name for r in results if r.status == "quarantined"],
    }


def check_triggers(config_path: str, now: datetime | None = None) -> Ref:
    """What fires now (manual, performance, drift, new data); ``fire`` False means skip the rest."""
    from evergreen.store.engine import utcnow

    project = open_config(config_path)
    at = now or utcnow()
    cfg = project.settings.triggers.model_copy(update={"schedule": None})
    ev = evaluate(gather_state(project, at), cfg, at)
    if not ev.firings:
        why = "cooldown until " + ev.cooldown_until.isoformat() if ev.suppressed and ev.cooldown_until else ""
        return {
            "fire": False,
            "reason": why or "no trigger fired",
            "suppressed": [f.kind for f in ev.suppressed],
        }
    req = retrain_request(ev.firings)
    return {
        "fire": True,
        "trigger": req.trigger,
        "reason": req.reason,
        "actor": req.actor,
        "force": req.force,
        "causes": [f.cause for f in ev.firings],
        "request_ids": [f.request_id for f in ev.firings if f.request_id],
    }


# ---- 3: assemble -----------------------------------------------------------------------------------
def assemble(config_path: str, firing: Ref) -> Ref:
    """Open a run for the firing and fix its dataset; ``skipped`` when the champion has that dataset."""
    project = open_config(config_path)
    with locked(project):
        mark_abandoned(project.store, lock_free=True)
        run_id = create_run(
            project.store,
            trigger=firing["trigger"],
            reason=firing.get("reason"),
            actor=firing.get("actor") or "system",
        )
    mark_requests(project.store, firing.get("request_ids", []), RUNNING, run_id=run_id)

    def body() -> Ref:
        s = project.settings
        try:
            ds = assemble_dataset(s, project.store)
        except DataValidationError as exc:
            if exc.reason == "no_training_data":
                return finish(project, run_id, "skipped", f"no labelled data to train on: {exc.message}")
            raise
        champion = project.registry.version_by_alias(CHAMPION)
        record_dataset(project, run_id, ds, champion, request_ids=firing.get("request_ids", []))
        ref = {
            "run_id": run_id,
            "dataset_version": ds.version,
            "batch_ids": list(ds.batch_ids),
            "as_of": ds.as_of.isoformat(),
            "rows": ds.rows,
            "champion_version": champion,
            "skipped": False,
        }
        unchanged = None if firing.get("force") else unchanged_dataset_reason(project, champion, ds.version)
        if unchanged:
            return {**ref, **finish(project, run_id, "skipped", unchanged)}
        return ref

    return run_step(project, run_id, "dataset", body)


# ---- 4: train --------------------------------------------------------------------------------------
def train(config_path: str, ref: Ref) -> Ref:
    """Train the candidates, log them to MLflow and register the winner (decision still pending)."""
    if ref.get("skipped"):
        return ref
    project = open_config(config_path)
    run_id = ref["run_id"]

    def body() -> Ref:
        s = project.settings
        run = get_run(project.store, run_id)
        ds = rebuild_dataset(project, ref)
        train_df, _holdout = split_holdout(ds, s.training.holdout_fraction, s.training.seed, s.task)
        kinds = FeatureKinds(*feature_kinds(ds.contract))
        parent = start_parent_run(project, run_id, run["trigger"], ds.version)
        log_dataset(project, parent, ds)
        result = train_candidates(train_df, s.data.target, kinds, s.task, s.training, s.selection_metric)
        winner_run, candidates = log_candidates(project, parent, result, run_id, ds)
        example = train_df[list(kinds.columns)].head(5)
        version, size_mb = register_candidate(
            project, run_id, run["trigger"], ds.version, winner_run, result, example
        )
        project.registry.log(winner_run, metrics={"model_size_mb": size_mb})
        update_run(
            project.store,
            run_id,
            candidate_version=version,
            details={
                **(run.get("details") or {}),
                "candidates": candidates,
                "fit_seconds": result.fit_seconds_total,
            },
        )
        return {
            **ref,
            "candidate_version": version,
            "mlflow_run_id": parent,
            "winner_run": winner_run,
            "winner": result.best_name,
        }

    return run_step(project, run_id, "train", body)


def run_all(config_path: str, now: datetime | None = None) -> Ref:
    """Every step in order in this process: what the adapters do, without an orchestrator."""
    ingest(config_path)
    firing = check_triggers(config_path, now)
    if not firing["fire"]:
        return {"status": "no_trigger", "reason": firing["reason"]}
    ref = assemble(config_path, firing)
    for step in (train, evaluate_candidate, decide_candidate, promote):
        if ref.get("skipped"):
            break
        ref = step(config_path, ref)
    return notify(config_path, ref)
