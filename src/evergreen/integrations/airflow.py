"""Airflow 3 adapter: the retrain's stages (:data:`evergreen.pipeline.stages.STAGES`) as a TaskFlow DAG.

ingest → check_triggers → (no_trigger, or) one task per stage of the list. Every task is a one-line
call (:mod:`evergreen.pipeline.tasks`) with the config path and the previous task's small
reference; the only Airflow-specific thing here is the wiring (schedule, branch, retries). Install
with ``pip install "evergreen-ml[airflow]"``; ``evergreen airflow-dag`` writes a DAG file for you.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from evergreen.config import load_settings
from evergreen.errors import one_line
from evergreen.integrations.airflow_landing import READY_FLAG, LandingFlagTrigger
from evergreen.pipeline import tasks
from evergreen.pipeline.stages import STAGES
from evergreen.triggers import check

__all__ = ["READY_FLAG", "LandingFlagTrigger", "build_dag", "landing_asset"]


def final_attempt() -> bool:
    """Whether Airflow will not run the current task instance again if it fails (no retries left)."""
    ti: Any = get_current_context()["ti"]
    # Airflow's own test (TaskInstance.is_eligible_to_retry): retries set and try_number <= max_tries.
    return not (ti.task.retries and ti.try_number <= ti.max_tries)


def landing_asset(config_path: str | Path, flag: str = READY_FLAG, poke_interval: float = 5.0) -> Asset:
    """An Asset updated when ``<landing>/<flag>`` appears; the watcher deletes the flag as it fires.

    A landing directory is watched by Airflow's own ``FileDeleteTrigger``; an fsspec URL
    (``s3://``, ``gs://``, ``file://``) by :class:`LandingFlagTrigger`, same contract, credentials
    from the triggerer's environment (only the URL, which holds none, is stored with the trigger).
    """
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    s = load_settings(config_path)
    if s.data.landing_dir is not None:
        # Airflow's own trigger rather than ours over file://: maintained with Airflow, needs no
        # fsspec in the triggerer, and a DAG generated before keeps its stored trigger row.
        landing = s.data.landing_dir
        trigger: Any = FileDeleteTrigger(filepath=str(landing / flag), poke_interval=poke_interval)
        uri = f"file://{landing}"
    else:
        uri = str(s.data.landing)  # the URL as configured: never with credentials (refused there)
        trigger = LandingFlagTrigger(url=uri, flag=flag, poke_interval=poke_interval)
    return Asset(
        name=f"evergreen-{s.project}-landing",
        uri=uri,
        watchers=[AssetWatcher(name=f"evergreen-{s.project}-landing-watcher", trigger=trigger)],
    )


def build_dag(
    config_path: str | Path,
    *,
    dag_id: str | None = None,
    schedule: Any = "config",
    on_file_landing: bool = False,
    retries: int | None = None,
    retry_delay: timedelta | None = None,
    start_date: datetime | None = None,
) -> DAG:
    """The retrain DAG of the project at ``config_path``.

    ``schedule``: ``"config"`` uses ``triggers.schedule``; anything else is passed to Airflow.
    ``on_file_landing``: run when a producer touches ``<landing>/_READY`` (an Asset with a watcher)
    instead of on the cron. Retries default to ``triggers.max_retries`` with ``backoff_seconds``
    as the first delay, doubling each time (Airflow's exponential backoff).
    """
    cfg = str(Path(config_path).resolve())
    s = load_settings(cfg)
    if on_file_landing:
        when: Any = [landing_asset(cfg)]
    else:
        when = s.triggers.schedule if schedule == "config" else schedule
    defaults = {
        "retries": s.triggers.max_retries if retries is None else retries,
        "retry_delay": retry_delay or timedelta(seconds=s.triggers.backoff_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(seconds=max(s.triggers.backoff_max_seconds, 1)),
    }
    with DAG(
        dag_id=dag_id or f"evergreen_{s.project}_retrain" + ("_on_landing" if on_file_landing else ""),
        schedule=when,
        start_date=start_date or datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # single flight on the Airflow side; the project lock covers the rest
        default_args=defaults,
        tags=["evergreen", s.project],
    ) as dag:

        @task
        def ingest() -> dict[str, Any]:
            return tasks.ingest_task(cfg)

        @task
        def check_triggers(_ingested: dict[str, Any]) -> dict[str, Any]:
            return check.check_triggers(cfg)

        @task.branch
        def fire_or_skip(checked: dict[str, Any]) -> str:
            return STAGES[0].name if check.fires(checked) else "no_trigger"

        @task
        def no_trigger() -> None:
            return None

        def stage_task(name: str, last: bool) -> Any:
            def run(ref: dict[str, Any]) -> dict[str, Any]:
                try:
                    return tasks.run_task(cfg, name, ref, final_attempt=final_attempt())
                except Exception as exc:
                    if tasks.retryable(exc):
                        raise
                    # Trying again cannot help (and the run has ended): fail now, no retries.
                    raise AirflowFailException(one_line(exc, with_code=True)) from exc

            # The last stage reports a finished run: retrying it would report it twice.
            return task(run, task_id=name, **({"retries": 0} if last else {}))

        checked = check_triggers(ingest())
        branch = fire_or_skip(checked)
        ref = first = stage_task(STAGES[0].name, False)(checked)
        branch >> [first, no_trigger()]
        for i, stage in enumerate(STAGES[1:], start=2):
            ref = stage_task(stage.name, i == len(STAGES))(ref)
    return dag
