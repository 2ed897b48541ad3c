"""Airflow 3 adapter: the retrain steps of :mod:`evergreen.triggers.steps` as a TaskFlow DAG.

Every task is a one-line call of a step function with the config path and the previous step's small
reference; the only Airflow-specific thing here is the wiring (schedule, branch, retries). Install
with ``pip install "evergreen-ml[airflow]"``; ``evergreen airflow-dag`` writes a DAG file for you.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from evergreen.config import load_settings
from evergreen.triggers import steps

READY_FLAG = "_READY"  # touched by a producer after its files are in the landing dir (Asset variant)


def landing_asset(config_path: str | Path, flag: str = READY_FLAG, poke_interval: float = 5.0) -> Asset:
    """An Asset updated when ``<landing>/<flag>`` appears; the watcher deletes the flag as it fires."""
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    s = load_settings(config_path)
    trigger = FileDeleteTrigger(filepath=str(s.data.landing / flag), poke_interval=poke_interval)
    return Asset(
        name=f"evergreen-{s.project}-landing",
        uri=f"file://{s.data.landing}",
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
            return steps.ingest(cfg)

        @task
        def check_triggers(_ingested: dict[str, Any]) -> dict[str, Any]:
            return steps.check_triggers(cfg)

        @task.branch
        def fire_or_skip(firing: dict[str, Any]) -> str:
            return "assemble" if firing["fire"] else "no_trigger"

        @task
        def no_trigger() -> None:
            return None

        @task
        def assemble(firing: dict[str, Any]) -> dict[str, Any]:
            return steps.assemble(cfg, firing)

        @task
        def train(ref: dict[str, Any]) -> dict[str, Any]:
            return steps.train(cfg, ref)

        @task
        def evaluate(ref: dict[str, Any]) -> dict[str, Any]:
            return steps.evaluate_candidate(cfg, ref)

        @task
        def decide(ref: dict[str, Any]) -> dict[str, Any]:
            return steps.decide_candidate(cfg, ref)

        @task
        def promote(ref: dict[str, Any]) -> dict[str, Any]:
            return steps.promote(cfg, ref)

        @task(retries=0)
        def notify(ref: dict[str, Any]) -> dict[str, Any]:
            return steps.notify(cfg, ref)

        firing = check_triggers(ingest())
        branch = fire_or_skip(firing)
        assembled = assemble(firing)
        branch >> [assembled, no_trigger()]
        notify(promote(decide(evaluate(train(assembled)))))
    return dag
