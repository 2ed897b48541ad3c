"""Retrain steps 5-8 for orchestrators: evaluate, decide, promote, notify (see :mod:`.steps`)."""

from __future__ import annotations

from dataclasses import asdict

from evergreen.data.dataset import feature_kinds, split_holdout
from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.holdout import compare_on_holdout, score_champion, score_on_holdout
from evergreen.evaluation.policy import ModelScore
from evergreen.logs import get_logger
from evergreen.pipeline import apply_decision, decide_and_record
from evergreen.registry import CHAMPION
from evergreen.store.requests import DONE, mark_requests
from evergreen.store.runs import get_run
from evergreen.training.preprocessing import FeatureKinds
from evergreen.triggers.stepbase import Ref, finish, open_config, rebuild_dataset, run_step

log = get_logger("evergreen.steps")


# ---- 5-6: evaluate, decide -------------------------------------------------------------------------
def evaluate_candidate(config_path: str, ref: Ref) -> Ref:
    """Score the candidate and the champion on the same holdout; the paired bootstrap of the delta."""
    if ref.get("skipped"):
        return ref
    project = open_config(config_path)
    run_id = ref["run_id"]

    def body() -> Ref:
        s, reg = project.settings, project.registry
        ds = rebuild_dataset(project, ref)
        _train, holdout = split_holdout(ds, s.training.holdout_fraction, s.training.seed, s.task)
        kinds = FeatureKinds(*feature_kinds(ds.contract))
        cand = score_on_holdout(reg.load_model(ref["candidate_version"]), None, holdout, s, kinds.columns)
        champ, champ_error = score_champion(
            reg.load_model, ref["champion_version"], holdout, s, kinds.columns
        )
        comparison = compare_on_holdout(s, cand, champ, holdout)
        reg.log(ref["winner_run"], metrics={f"holdout_{k}": v for k, v in cand.score.metrics.items()})
        return {
            **ref,
            "candidate_metrics": cand.score.metrics,
            "candidate_slices": cand.score.slices,
            "champion_metrics": champ.score.metrics if champ else None,
            "champion_slices": champ.score.slices if champ else None,
            "champion_error": champ_error,
            "comparison": asdict(comparison) if comparison else None,
        }

    return run_step(project, run_id, "evaluate", body)


def decide_candidate(config_path: str, ref: Ref) -> Ref:
    """The pure policy on the evaluation's numbers; the decision is recorded and tagged, not acted on."""
    if ref.get("skipped"):
        return ref
    project = open_config(config_path)
    run_id = ref["run_id"]

    def body() -> Ref:
        champ = None
        if ref["champion_metrics"] is not None:
            champ = ModelScore(ref["champion_version"], ref["champion_metrics"], ref["champion_slices"] or {})
        decision = decide_and_record(
            project,
            run_id,
            ref["mlflow_run_id"],
            ModelScore(ref["candidate_version"], ref["candidate_metrics"], ref["candidate_slices"] or {}),
            champ,
            BootstrapResult(**ref["comparison"]) if ref["comparison"] else None,
            ref["champion_version"],
            ref["champion_error"],
        )
        return {**ref, "outcome": decision.outcome, "justification": decision.justification}

    return run_step(project, run_id, "decide", body)


# ---- 7-8: promote, notify --------------------------------------------------------------------------
def promote(config_path: str, ref: Ref) -> Ref:
    """Move the champion alias if the decision says so (last, so nothing earlier touches serving)."""
    if ref.get("skipped"):
        return ref
    project = open_config(config_path)
    run_id = ref["run_id"]

    def body() -> Ref:
        outcome, why = ref["outcome"], ref["justification"]
        apply_decision(project, outcome, why, ref["candidate_version"], ref["champion_version"])
        project.registry.end_run(ref["mlflow_run_id"])
        return {**ref, **finish(project, run_id, outcome, why, decision=outcome)}

    return run_step(project, run_id, "promote", body)


def notify(config_path: str, ref: Ref) -> Ref:
    """Close the manual requests the run served and hand the outcome to the alerting layer."""
    project = open_config(config_path)
    run = get_run(project.store, ref["run_id"])
    request_ids = (run.get("details") or {}).get("request_ids", [])
    mark_requests(
        project.store, request_ids, DONE, run_id=run["id"], result=f"{run['status']}: {ref.get('reason')}"
    )
    summary = {
        "run_id": run["id"],
        "status": run["status"],
        "reason": ref.get("reason"),
        "trigger": run["trigger"],
        "candidate_version": run["candidate_version"],
        "champion_version": project.registry.version_by_alias(CHAMPION),
    }
    try:
        from evergreen.alerts import raise_alerts

        # Facts come from the store (the run, the decision, the aliases): promotion, pending approval.
        raise_alerts(project)
    except Exception as exc:  # a failed notification must not turn a finished run into a failure
        log.warning("notify_failed", error=str(exc))
    project.close()  # this task's process may end now: let the alert deliveries go out first
    log.info("retrain_finished", **summary)
    return summary
