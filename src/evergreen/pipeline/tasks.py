"""The retrain's stages as orchestrator tasks (Airflow, Prefect): one stage per call, JSON in and out.

A task may run in another process or on another worker, so each call opens the project from the
config path again, holds the project's retrain lock while it works and hands back a JSON-able dict
(:mod:`.refs`). Between two tasks of a run the lock stays the run's: the task that opens the run
and each task after it park it under the run's name (:meth:`~evergreen.store.locks.LeaseLock.park`)
while the run is running, and the next task resumes it; the task that ends the run releases it. So
an embedded scheduler, a CLI retrain or a retention pass never runs in the gap, and a run is not
marked abandoned because the process that opened it has exited. A parked lock whose orchestrator
never came back frees itself when its lease (:func:`between_tasks_lease_seconds`) runs out.

A failure the orchestrator will retry (``final_attempt`` False) that can succeed later
(:func:`retryable`: the database or MLflow unreachable, the lock held by another retrain) leaves
the run running and is only logged: the retry carries the same run on. Any other failure ends the
run (failed, candidate rejected, MLflow parent run FAILED) and is reported to the alerting layer
before it propagates; a retry of a stage of a run that has ended is refused
(:class:`~evergreen.errors.RunEndedError`), so nothing is done for a run recorded failed or
abandoned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from evergreen.config import Settings, load_settings
from evergreen.errors import LockHeldError, RunEndedError, is_transient, one_line
from evergreen.logs import get_logger
from evergreen.pipeline.context import StageContext
from evergreen.pipeline.records import fail_run, report_failure
from evergreen.pipeline.refs import Finished, RunOrder, StageRef, ref_from_dict
from evergreen.pipeline.stages import STAGES, Stage, acts_on, ingest, run_stage, stage_named
from evergreen.project import Project, open_project
from evergreen.store.locks import LeaseLock, retrain_lock_name, run_holder
from evergreen.store.requests import FAILED, RUNNING, mark_requests
from evergreen.store.runs import RUNNING as RUN_RUNNING
from evergreen.store.runs import create_run, finish_run, get_run, mark_abandoned

Ref = dict[str, Any]
log = get_logger("evergreen.pipeline")


def open_config(config_path: str | Path) -> Project:
    return open_project(load_settings(config_path))


# How long an orchestrator may take to start a run's next task, beyond its longest retry delay.
SCHEDULING_MARGIN_SECONDS = 600.0


def between_tasks_lease_seconds(settings: Settings) -> float:
    """How long a run's lock stays parked between two of its tasks: the orchestrator's longest retry
    delay (``triggers.backoff_max_seconds``, which both adapters use) and ten minutes to schedule."""
    return settings.triggers.backoff_max_seconds + SCHEDULING_MARGIN_SECONDS


@contextmanager
def run_lease(project: Project, run_id: str) -> Iterator[LeaseLock]:
    """The retrain lock for one task of the run ``run_id``: resumed where the run's previous task
    parked it, parked again at the end while the run is running, released once it has ended."""
    lock = LeaseLock(
        project.store,
        retrain_lock_name(project.settings.project),
        run_id=run_id,
        resumes=run_holder(run_id),
    ).acquire()
    try:
        yield lock
    finally:
        if not (_is_running(project, run_id) and _park(project, lock, run_id)):
            lock.release()


def _is_running(project: Project, run_id: str) -> bool:
    try:
        return bool(get_run(project.store, run_id)["status"] == RUN_RUNNING)
    except Exception as exc:  # the database cannot say: keep the lock the run's (it may be running)
        log.warning("run_status_unreadable", run_id=run_id, error=one_line(exc))
        return True


def _park(project: Project, lock: LeaseLock, run_id: str) -> bool:
    return lock.park(run_holder(run_id), between_tasks_lease_seconds(project.settings))


def ingest_task(config_path: str) -> Ref:
    """Ingest the landing directory (before the triggers are checked: new data counts ingested rows)."""
    with open_config(config_path) as project:
        return ingest(StageContext.open(project)).to_dict()


def open_run(project: Project, order: RunOrder) -> RunOrder:
    """Open the pipeline run an order asks for; its queued requests are now running."""
    lock = LeaseLock(project.store, retrain_lock_name(project.settings.project)).acquire()
    try:
        mark_abandoned(project.store, lock_free=True)
        run_id = create_run(
            project.store,
            trigger=order.trigger,
            reason=order.reason,
            actor=order.actor or "system",
            orchestrated=True,
        )
        lock.set_run(run_id)
    except BaseException:
        lock.release()
        raise
    if not _park(project, lock, run_id):  # taken over in between (our lease ran out): the run's
        lock.release()  # first task then meets the new holder like any other
    mark_requests(project.store, list(order.request_ids), RUNNING, run_id=run_id)
    return RunOrder(
        order.trigger, order.reason, order.actor, order.force, order.as_of, order.request_ids, run_id
    )


def _failed(project: Project, run_id: str, exc: Exception) -> None:
    msg = fail_run(project, run_id, exc)
    if msg is None:  # the run had already finished: nothing of it to undo or report
        return
    report_failure(project, run_id, msg, transient=is_transient(exc), attempts=1)
    request_ids = (get_run(project.store, run_id).get("details") or {}).get("request_ids", [])
    mark_requests(project.store, request_ids, FAILED, run_id=run_id, result=msg)


def run_task(config_path: str, name: str, ref: Mapping[str, Any], *, final_attempt: bool = True) -> Ref:
    """Run the stage ``name`` on ``ref`` (a dict made by a ``to_dict``) in this process.

    ``final_attempt``: False when the orchestrator will run this task again if it fails.
    """
    stage = stage_named(name)
    value: StageRef = ref_from_dict(ref)
    if not acts_on(stage, value):
        return value.to_dict()
    # This task's process may end when it returns: closing the project lets alert deliveries go out.
    with open_config(config_path) as project:
        opened_here = isinstance(value, RunOrder) and value.run_id is None
        if opened_here:
            assert isinstance(value, RunOrder)
            value = open_run(project, value)
        run_id = getattr(value, "run_id", None)
        assert isinstance(run_id, str)
        ctx = StageContext.open(project, alerts=True)
        with ExitStack() as held:
            try:
                if stage.holds_lock:
                    ctx.lease = held.enter_context(run_lease(project, run_id))
                if not isinstance(value, Finished):  # notify reports a run that has ended, by design
                    _still_running(project, run_id, name)
                out = run_stage(ctx, stage, value)
            except Exception as exc:
                if final_attempt or not retryable(exc):
                    _failed(ctx.project, run_id, exc)
                elif opened_here:
                    # The retry gets the same order, without this run's id: it opens a run of its
                    # own. This one ends here, and its lock is released for the retry to take.
                    finish_run(
                        project.store,
                        run_id,
                        "abandoned",
                        error=f"its first stage failed and is retried as a new run: {one_line(exc)}",
                    )
                    log.warning(
                        "first_stage_failed_will_retry", run_id=run_id, stage=name, error=one_line(exc)
                    )
                else:
                    log.warning("stage_failed_will_retry", run_id=run_id, stage=name, error=one_line(exc))
                raise
        return out.to_dict()


def retryable(exc: BaseException) -> bool:
    """Whether an orchestrator's retry of a task can succeed: an outage (the database, MLflow, the
    models lease held by a person) or another retrain holding the project's lock (it will end)."""
    return is_transient(exc) or isinstance(exc, LockHeldError)


def _still_running(project: Project, run_id: str, stage: str) -> None:
    status = get_run(project.store, run_id)["status"]
    if status != RUN_RUNNING:
        raise RunEndedError(
            f"run {run_id} has already ended ({status}): its {stage} stage is not run again",
            details={"run_id": run_id, "status": status, "stage": stage},
        )


def run_stages(first: Mapping[str, Any], call: Callable[[Stage, Ref], Ref]) -> Ref:
    """Every stage in order from ``first`` (a run order), through ``call`` (one orchestrator task
    per stage); a finished run goes straight to the stages that act on it (``notify``)."""
    ref: Ref = dict(first)
    for stage in STAGES:
        if ref.get("kind") == Finished.kind and Finished not in stage.takes:
            continue
        ref = call(stage, ref)
    return ref
