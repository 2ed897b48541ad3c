"""Prefect 3 adapter: the retrain steps of :mod:`evergreen.triggers.steps` as tasks of one flow.

Each task is a one-line call of a step function; retries come from ``triggers.max_retries`` and
``triggers.backoff_seconds`` (doubling). Install with ``pip install "evergreen-ml[prefect]"``;
``evergreen prefect-flow`` writes a file that serves this flow on the project's cron.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from evergreen.config import load_settings
from evergreen.triggers import steps

Ref = dict[str, Any]


def _retry_delays(config_path: str) -> tuple[int, list[float]]:
    t = load_settings(config_path).triggers
    delays = [min(t.backoff_max_seconds, t.backoff_seconds * 2**i) for i in range(t.max_retries)]
    return t.max_retries, delays


@task(name="ingest")
def ingest(config_path: str) -> Ref:
    return steps.ingest(config_path)


@task(name="check-triggers")
def check_triggers(config_path: str) -> Ref:
    return steps.check_triggers(config_path)


@task(name="assemble")
def assemble(config_path: str, firing: Ref) -> Ref:
    return steps.assemble(config_path, firing)


@task(name="train")
def train(config_path: str, ref: Ref) -> Ref:
    return steps.train(config_path, ref)


@task(name="evaluate")
def evaluate(config_path: str, ref: Ref) -> Ref:
    return steps.evaluate_candidate(config_path, ref)


@task(name="decide")
def decide(config_path: str, ref: Ref) -> Ref:
    return steps.decide_candidate(config_path, ref)


@task(name="promote")
def promote(config_path: str, ref: Ref) -> Ref:
    return steps.promote(config_path, ref)


@task(name="notify")
def notify(config_path: str, ref: Ref) -> Ref:
    return steps.notify(config_path, ref)


RETRIED = (ingest, check_triggers, assemble, train, evaluate, decide, promote)


@flow(name="evergreen-retrain", log_prints=True)
def retrain_flow(config_path: str) -> Ref:
    """ingest → check triggers → (skip, or) assemble → train → evaluate → decide → promote → notify."""
    retries, delays = _retry_delays(config_path)
    run = {t.name: t.with_options(retries=retries, retry_delay_seconds=delays) for t in RETRIED}
    firing = run["check-triggers"](config_path, wait_for=[run["ingest"](config_path)])
    if not firing["fire"]:
        return {"status": "no_trigger", "reason": firing["reason"]}
    ref = run["assemble"](config_path, firing)
    for name in ("train", "evaluate", "decide", "promote"):
        if ref.get("skipped"):
            break
        ref = run[name](config_path, ref)
    return notify(config_path, ref)
