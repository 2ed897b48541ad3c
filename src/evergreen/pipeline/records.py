"""What the stages write: run rows, MLflow runs and versions, decisions, failures.

Only reads and writes; the decision itself is the pure :func:`evergreen.evaluation.policy.decide`.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any, cast

import pandas as pd

from evergreen.data.dataset import Dataset
from evergreen.errors import LeaseLostError, RunStoppedError, one_line
from evergreen.evaluation.bootstrap import BootstrapResult
from evergreen.evaluation.policy import Decision, ModelScore, Policy, decide
from evergreen.evaluation.recent import EvaluationBasis
from evergreen.logs import get_logger
from evergreen.pipeline.refs import CandidateStatus, CandidateSummary
from evergreen.project import Project
from evergreen.registry import CHAMPION, TAG_PREFIX
from evergreen.store.audit import champion_alias_gone, last_champion_set, record_action
from evergreen.store.notify import notify_version_registered
from evergreen.store.runs import finish_run, get_run, record_decision, update_run
from evergreen.training import MLFLOW_SERIALIZATION_FORMAT
from evergreen.training.fit import TrainingResult

log = get_logger("evergreen.pipeline")


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
) -> tuple[str, tuple[CandidateSummary, ...]]:
    """One child MLflow run per candidate; returns the winner's run and the candidates' summaries."""
    reg = project.registry
    winner_run = ""
    candidates: list[CandidateSummary] = []
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
            CandidateSummary(
                name=c.name,
                status=cast(CandidateStatus, c.status),
                fit_seconds=round(c.fit_seconds, 3),
                val_metrics=c.val_metrics,
                error=c.error,
                winner=c.name == result.best_name,
            )
        )
    names = ",".join(x.name for x in result.candidates)
    reg.log(
        parent,
        params={"winner": result.best_name, "candidates": names},
        metrics={"data_size": float(dataset.rows), "training_time_seconds": result.fit_seconds_total},
    )
    return winner_run, tuple(candidates)


def register_candidate(
    project: Project,
    run_id: str,
    trigger: str,
    dataset_version: str,
    winner_run: str,
    result: TrainingResult,
    example: pd.DataFrame,
) -> tuple[str, float]:
    """Register the winner as a new model version (its decision still to come); (version, size in MB).

    Running servers are told (PostgreSQL NOTIFY), so they load it while it is evaluated or waits for
    approval: its promotion, if it comes, is then a pointer swap.
    """
    version, size_mb = project.registry.register_model(
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
    )
    notify_version_registered(project.store, version)
    return version, size_mb


def decide_and_record(
    project: Project,
    run_id: str,
    parent: str,
    cand: ModelScore,
    champ: ModelScore | None,
    comparison: BootstrapResult | None,
    champion_version: str | None,
    champion_error: str | None,
    basis: EvaluationBasis | None = None,
) -> Decision:
    """The pure policy on the scores; the decision is tagged, logged and recorded, not yet acted on."""
    s, reg = project.settings, project.registry
    missing = None
    if champion_version is None and (last := last_champion_set(project.store)):
        # Not a first model: the alias went behind evergreen's back (a version deleted in MLflow
        # takes its aliases with it). The policy is the same; the record says what happened.
        missing = champion_alias_gone(CHAMPION, last)
        log.warning("champion_alias_missing", run_id=run_id, last_champion=last)
    decision = decide(
        cand,
        champ,
        Policy.from_config(s.promotion, s.promotion_metric),
        comparison,
        champion_error=champion_error,
        basis=basis,
        champion_missing=missing,
    )
    version = cand.version
    assert version is not None
    champion_metrics = champ.metrics if champ else {}
    reg.tag_version(
        version,
        {TAG_PREFIX + "decision": decision.outcome, TAG_PREFIX + "reason": decision.justification},
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


def fail_run(project: Project, run_id: str, exc: BaseException) -> str | None:
    """A run still running failed: record it (with the traceback), reject its candidate, close its
    MLflow parent run as FAILED. Returns the one-line message, or None when the run had already
    finished (a failure after the run's end, e.g. in ``notify``, does not undo its outcome)."""
    msg = one_line(exc, with_code=True)
    try:
        run = get_run(project.store, run_id)
        if run["status"] != "running":
            return None
        # A lost lease or a stop request is not a failure of the work: the run was abandoned.
        status = "abandoned" if isinstance(exc, LeaseLostError | RunStoppedError) else "failed"
        finish_run(
            project.store,
            run_id,
            status,
            error=msg + "\n" + "".join(traceback.format_exception(exc))[-4000:],
        )
        candidate = run.get("candidate_version")
        # Not a version an alias reaches: a person promoted this candidate during the run, and the
        # serving champion must not read "rejected" because the run that trained it failed later.
        if candidate and not project.registry.get_version(candidate).aliases:
            project.registry.tag_version(
                candidate,
                {TAG_PREFIX + "decision": "rejected", TAG_PREFIX + "reason": f"run failed: {msg}"},
            )
        if run.get("mlflow_run_id"):
            project.registry.end_run(run["mlflow_run_id"], status="FAILED")
    except Exception as book:  # the original error matters more than a failed bookkeeping write
        log.error("run_failure_not_recorded", run_id=run_id, error=msg, bookkeeping=one_line(book))
    return msg


def report_failure(
    project: Project,
    run_id: str | None,
    error: str,
    *,
    triggers: Sequence[str] = (),
    causes: Sequence[str] = (),
    transient: bool,
    attempts: int,
) -> None:
    """Tell the alerting layer that a retrain failed, and always write the audit row it reads."""
    details = {
        "run_id": run_id,
        "triggers": list(triggers),
        "causes": list(causes),
        "transient": transient,
        "attempts": attempts,
        "error": error,
    }
    try:
        from evergreen.alerts import report_retrain_failure

        report_retrain_failure(project, details)
    except Exception as exc:  # alerting must never hide the failure it reports
        log.warning("alert_hook_failed", error=one_line(exc))
    try:
        record_action(
            project.store,
            actor="system",
            action="retrain_failed",
            target=f"run:{run_id}" if run_id else None,
            reason=error[:2000],
            after=details,
        )
    except Exception as exc:  # the database may be the thing that is down
        log.error("retrain_failure_not_recorded", error=one_line(exc), **details)
