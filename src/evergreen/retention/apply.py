"""Carry out a retention plan: gather the facts, plan (pure), delete in a safe order, audit each step.

Versions go one at a time, oldest first, each in the order that never leaves a live reference to
something missing: the model version (re-checked just before: no alias, not pending), then its
logged model, then its run, then the run's artifacts. A version an alias reached after the plan was
made (a promotion during the pass) is skipped, never deleted; the pass holds the project's retrain
lock, so no retrain promotes meanwhile, and each version's re-check and deletion hold the models
lease, so no person promotes or rolls back to it in between (MLflow would silently delete the alias
with the version: a champion gone). Every deletion is a row in the audit trail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select

from evergreen.champion import AUTOMATED_WAIT_SECONDS, acquire_models_lease
from evergreen.data.quarantine import PROCESSED_DIR, aged_files
from evergreen.errors import NotFoundError, one_line
from evergreen.logs import get_logger
from evergreen.registry import TAG_PREFIX
from evergreen.retention.plan import RetentionPlan, RetentionPolicy, VersionFacts, plan_retention
from evergreen.store.audit import record_action
from evergreen.store.engine import as_utc
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.tables import feedback, pipeline_runs, predictions

if TYPE_CHECKING:
    from evergreen.config import Settings
    from evergreen.project import Project

log = get_logger(__name__)
PENDING = "pending_approval"


@dataclass(frozen=True)
class GcResult:
    plan: RetentionPlan
    dry_run: bool
    deleted_versions: tuple[str, ...] = ()
    skipped_versions: tuple[tuple[str, str], ...] = ()  # (version, why) re-checked just before deleting
    deleted_predictions: int = 0
    deleted_feedback: int = 0
    deleted_files: tuple[str, ...] = ()
    deleted_reports: tuple[str, ...] = ()  # HTML reports beyond monitoring.keep_reports (rows stay)


def _local_dirs(s: Settings) -> list[Path]:
    """The local folders of processed and quarantined files (a directory landing's .processed/)."""
    local = s.data.landing_dir
    return [s.storage.quarantine_dir, *(() if local is None else (local / PROCESSED_DIR,))]


def gather(project: Project) -> tuple[list[VersionFacts], list[tuple[Path | str, float]]]:
    """The registry's versions with their aliases, pending state and last use; the deletable files."""
    store, s = project.store, project.settings
    with store.connect() as conn:
        last_used = {
            str(v): as_utc(at)
            for v, at in conn.execute(
                select(predictions.c.model_version, func.max(predictions.c.created_at))
                .where(predictions.c.project == store.project)
                .group_by(predictions.c.model_version)
            ).all()
        }
        pending = {
            str(v)
            for (v,) in conn.execute(
                select(pipeline_runs.c.candidate_version).where(
                    pipeline_runs.c.project == store.project, pipeline_runs.c.status == PENDING
                )
            ).all()
            if v is not None
        }
    versions = [
        VersionFacts(
            version=v.version,
            created_at=datetime.fromtimestamp(v.created_at, UTC),
            aliases=v.aliases,
            pending=v.version in pending or v.tags.get(TAG_PREFIX + "decision") == PENDING,
            last_predicted_at=last_used.get(v.version),
        )
        for v in project.registry.list_versions()
    ]
    files: list[tuple[Path | str, float]] = [*aged_files(_local_dirs(s))]
    if s.data.landing_url is not None:  # an object-store landing's .processed/ and .quarantine/
        from evergreen.data.objectstore import ObjectLanding

        landing = ObjectLanding(s.data.landing_url)
        files += [(landing.url_of(key), modified) for key, modified in landing.set_aside()]
    return versions, files


def run_gc(
    project: Project,
    policy: RetentionPolicy,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = "system",
    before_delete: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> GcResult:
    """Plan and (unless ``dry_run``) delete. ``before_delete(version)`` runs between the plan and each
    version's re-check, under the models lease (tests use it to move an alias mid-pass). ``stop`` (the
    scheduler's SIGTERM flag): set while the pass waits for the models lease, it ends the pass at once
    (:class:`RunStoppedError`) with the versions before that one deleted and the rest kept."""
    versions, files = gather(project)
    plan = plan_retention(versions, files, policy, now)
    if dry_run:
        return GcResult(plan, dry_run=True)
    with LeaseLock(project.store, retrain_lock_name(project.settings.project)):
        deleted, skipped = _delete_versions(project, plan, actor, before_delete, stop)
    n_pred, n_fb = _prune_rows(project, plan, actor)
    gone = _delete_files(project, policy, now, actor)
    reports = _prune_reports(project, actor)
    return GcResult(plan, False, tuple(deleted), tuple(skipped), n_pred, n_fb, tuple(gone), tuple(reports))


def _prune_reports(project: Project, actor: str) -> list[str]:
    from evergreen.monitoring.report import prune_html

    removed = [p for p in prune_html(project.store, project.settings.monitoring.keep_reports) if p]
    _audit_files(
        project, actor, removed, "retention: HTML report beyond monitoring.keep_reports (its row stays)"
    )
    return removed


def _audit_files(project: Project, actor: str, paths: list[str], reason: str) -> None:
    """One ``gc_delete_file`` row in the audit trail per removed file."""
    for path in paths:
        record_action(
            project.store,
            actor=actor,
            action="gc_delete_file",
            target=f"file:{Path(path).name}",
            reason=reason,
            before={"path": path},
        )


def _delete_versions(
    project: Project,
    plan: RetentionPlan,
    actor: str,
    before_delete: Callable[[str], None] | None,
    stop: threading.Event | None,
) -> tuple[list[str], list[tuple[str, str]]]:
    reg = project.registry
    client, name = reg.client, reg.model_name
    deleted: list[str] = []
    skipped: list[tuple[str, str]] = []
    for version in plan.delete_versions:
        lease = acquire_models_lease(project, wait_seconds=AUTOMATED_WAIT_SECONDS, stop=stop)
        try:
            if before_delete is not None:
                before_delete(version)
            try:
                info = reg.get_version(version)  # fresh: aliases as they are now
            except NotFoundError:
                # Deleted by hand (MLflow's UI) since the plan: nothing left to do, and the pass
                # goes on to the other versions, the rows and the files.
                skipped.append((version, "deleted meanwhile"))
                log.warning("gc_version_skipped", version=version, reason="deleted meanwhile")
                continue
            if info.aliases or info.tags.get(TAG_PREFIX + "decision") == PENDING:
                why = f"alias {', '.join(info.aliases)}" if info.aliases else "waiting for approval"
                skipped.append((version, why))
                log.warning("gc_version_skipped", version=version, reason=why)
                continue
            mv = client.get_model_version(name, version)
            client.delete_model_version(name, version)
        finally:
            lease.release()
        # On record at once: whatever the clean-up below meets, the deletion is in the audit trail
        # (it ran after the clean-up, and a run someone had removed left a version gone, unaudited).
        record_action(
            project.store,
            actor=actor,
            action="gc_delete_version",
            target=f"version:{version}",
            reason="retention: no alias, not pending, older than the limits and unused by recent predictions",
            before={"version": version, "run_id": info.run_id, "source": info.source},
        )
        deleted.append(version)
        _delete_run_of(project, version, getattr(mv, "model_id", None), info.run_id, actor)
    return deleted, skipped


def _delete_run_of(
    project: Project, version: str, model_id: str | None, run_id: str | None, actor: str
) -> None:
    """The deleted version's logged model, then its run and the run's files once no version uses
    the run. Any of them may be gone already (a person, ``mlflow gc``): that is noted and the pass
    goes on; what is left is garbage, not a hazard (no alias can reach a deleted version).

    Only evergreen's own: a version registered under the project's model name by another tool,
    from a run of its own experiment, goes by the rules like any other, but that run, its files and
    its logged model stay (they were deleted with it: evergreen removed what it never made).
    """
    from mlflow.exceptions import MlflowException

    client = project.registry.client
    try:
        # Looked up, never created (the registry's experiment_id makes one when it is missing), and
        # inside the try: an MLflow error here must leave the run, not end the pass after the
        # version was deleted and audited. No experiment of that name: nothing is evergreen's.
        experiment = client.get_experiment_by_name(project.registry.model_name)
        ours = experiment.experiment_id if experiment is not None else None
        if model_id and client.get_logged_model(model_id).experiment_id == ours:
            client.delete_logged_model(model_id)
        if run_id and not any(v.run_id == run_id for v in project.registry.list_versions()):
            run = client.get_run(run_id).info
            if run.experiment_id != ours:
                log.info("gc_run_not_ours", version=version, run_id=run_id, experiment_id=run.experiment_id)
                return
            artifact_uri = run.artifact_uri
            client.delete_run(run_id)
            _delete_artifacts(artifact_uri)
            record_action(
                project.store,
                actor=actor,
                action="gc_delete_run",
                target=f"run:{run_id}",
                reason=f"retention: the run of deleted version {version}, used by no other version",
                before={"version": version, "artifact_uri": artifact_uri},
            )
    except MlflowException as exc:
        log.warning("gc_run_left", version=version, run_id=run_id, error=one_line(exc))


def _delete_artifacts(artifact_uri: str) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    try:
        get_artifact_repository(artifact_uri).delete_artifacts()
    except Exception as exc:  # the run is deleted already; leftover files are garbage, not a hazard
        log.warning("gc_artifacts_left", uri=artifact_uri, error=one_line(exc))


def _prune_rows(project: Project, plan: RetentionPlan, actor: str) -> tuple[int, int]:
    store, cutoff = project.store, plan.rows_before
    old_predictions = select(predictions.c.id).where(
        predictions.c.project == store.project, predictions.c.created_at < cutoff
    )
    with store.begin() as conn:
        # A label that came late for a prediction that goes now goes with it: joined to nothing,
        # it was kept for nothing (it arrived inside the limit, its prediction did not).
        n_fb = conn.execute(
            delete(feedback).where(
                feedback.c.project == store.project,
                or_(feedback.c.received_at < cutoff, feedback.c.prediction_id.in_(old_predictions)),
            )
        ).rowcount
        n_pred = conn.execute(
            delete(predictions).where(
                predictions.c.project == store.project, predictions.c.created_at < cutoff
            )
        ).rowcount
    if n_pred or n_fb:
        record_action(
            store,
            actor=actor,
            action="gc_prune_rows",
            target="predictions,feedback",
            reason=f"retention: rows older than {cutoff.isoformat()}",
            after={"predictions": n_pred, "feedback": n_fb, "before": cutoff.isoformat()},
        )
    return int(n_pred or 0), int(n_fb or 0)


def _delete_files(project: Project, policy: RetentionPolicy, now: datetime, actor: str) -> list[str]:
    """The same removal as at each ingest (never following a link), each removed file audited."""
    from evergreen.data.quarantine import remove_expired

    s = project.settings
    gone = [str(p) for p in remove_expired(_local_dirs(s), now, policy.processed_days)]
    if s.data.landing_url is not None:  # an object-store landing's .processed/ and .quarantine/
        from evergreen.data.objectstore import ObjectLanding

        gone += ObjectLanding(s.data.landing_url).prune(now, policy.processed_days)
    _audit_files(project, actor, gone, "retention: processed or quarantined file older than processed_days")
    return gone
