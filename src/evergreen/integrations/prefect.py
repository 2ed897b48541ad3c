"""Prefect 3 adapter: the retrain's stages (:data:`evergreen.pipeline.stages.STAGES`) as tasks of one flow.

ingest → check triggers → (skip, or) one task per stage of the list. Each task is a one-line call
(:mod:`evergreen.pipeline.tasks`); retries come from ``triggers.max_retries`` and
``triggers.backoff_seconds`` (doubling). Install with ``pip install "evergreen-ml[prefect]"``;
``evergreen prefect-flow`` writes a file that serves this flow on the project's cron.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, flow, task
from prefect.client.schemas.objects import TaskRun
from prefect.context import TaskRunContext
from prefect.states import State

from evergreen.config import load_settings
from evergreen.pipeline import tasks
from evergreen.pipeline.stages import STAGES, Stage
from evergreen.triggers import check

Ref = dict[str, Any]


def retryable_failure(_task: Task[..., Any], _run: TaskRun, state: State[Any]) -> bool:
    """Prefect's ``retry_condition_fn``: retry only a failure that can succeed later (as the
    embedded scheduler does); a deterministic one has ended the run, trying again cannot help."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # the result cannot be read back: Prefect's default, retry
        return True
    return not isinstance(exc, BaseException) or tasks.retryable(exc)


transient_only = retryable_failure  # its name before 2026-12 (flows that import it keep working)


def _retry_delays(config_path: str) -> tuple[int, list[float]]:
    t = load_settings(config_path).triggers
    delays = [min(t.backoff_max_seconds, t.backoff_seconds * 2**i) for i in range(t.max_retries)]
    return t.max_retries, delays


@task(name="ingest")
def ingest(config_path: str) -> Ref:
    return tasks.ingest_task(config_path)


@task(name="check-triggers")
def check_triggers(config_path: str) -> Ref:
    return check.check_triggers(config_path)


def final_attempt() -> bool:
    """Whether Prefect will not run the current task run again if it fails (no retries left)."""
    ctx = TaskRunContext.get()
    if ctx is None:  # called outside a task run: nobody retries it
        return True
    # Prefect's own test (handle_retry): retries so far (run_count - 1) < task.retries.
    return ctx.task_run.run_count - 1 >= (ctx.task.retries or 0)


@task
def run_stage(config_path: str, name: str, ref: Ref) -> Ref:
    return tasks.run_task(config_path, name, ref, final_attempt=final_attempt())


@flow(name="evergreen-retrain", log_prints=True)
def retrain_flow(config_path: str) -> Ref:
    """ingest → check triggers → (skip, or) every stage of STAGES (a finished run goes to notify)."""
    retries, delays = _retry_delays(config_path)
    retried = {"retries": retries, "retry_delay_seconds": delays, "retry_condition_fn": retryable_failure}
    checked = check_triggers.with_options(**retried)(
        config_path, wait_for=[ingest.with_options(**retried)(config_path)]
    )
    if not check.fires(checked):
        return {"status": "no_trigger", "reason": checked["reason"]}

    def call(stage: Stage, ref: Ref) -> Ref:
        # The last stage reports a finished run: retrying it would report it twice.
        options = retried if stage is not STAGES[-1] else {"retries": 0}
        named: Task[..., Ref] = run_stage.with_options(name=stage.name, **options)
        return named(config_path, stage.name, ref)

    summary = tasks.run_stages(checked, call)
    return {k: v for k, v in summary.items() if k != "kind"}
