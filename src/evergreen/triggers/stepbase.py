"""What every retrain step shares: open the project, hold the lock, record timings and failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from evergreen.config import load_settings
from evergreen.data.dataset import Dataset, assemble_dataset
from evergreen.errors import DataValidationError, StoreError
from evergreen.pipeline import finish_with_reason, lock_name, record_failure
from evergreen.project import Project, open_project
from evergreen.store.locks import LeaseLock
from evergreen.store.requests import FAILED, mark_requests
from evergreen.store.runs import get_run, update_run
from evergreen.triggers.execute import report_failure

Ref = dict[str, Any]
T = TypeVar("T")


def open_config(config_path: str | Path) -> Project:
    return open_project(load_settings(config_path))


@contextmanager
def locked(project: Project, run_id: str | None = None) -> Iterator[LeaseLock]:
    lock = LeaseLock(project.store, lock_name(project.settings.project)).acquire()
    try:
        if run_id:
            lock.set_run(run_id)
        yield lock
    finally:
        lock.release()


def run_step(project: Project, run_id: str, name: str, fn: Callable[[], T]) -> T:
    """Run one step's body under the lock; a failure is recorded on the run before it propagates."""
    with locked(project, run_id):
        update_run(project.store, run_id, step=name)
        t = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            run = get_run(project.store, run_id)
            msg = record_failure(project, run_id, exc, run.get("timings"), run.get("candidate_version"))
            report_failure(project, run_id, [], msg, transient=isinstance(exc, StoreError), attempts=1)
            mark_requests(
                project.store,
                (run.get("details") or {}).get("request_ids", []),
                FAILED,
                run_id=run_id,
                result=msg,
            )
            project.close()  # this task's process may end now: let the alert deliveries go out first
            raise
        timings = dict(get_run(project.store, run_id).get("timings") or {})
        timings[name] = time.perf_counter() - t
        update_run(project.store, run_id, timings=timings)
        return result


def rebuild_dataset(project: Project, ref: Ref) -> Dataset:
    ds = assemble_dataset(
        project.settings,
        project.store,
        as_of=datetime.fromisoformat(ref["as_of"]),
        batch_ids=ref["batch_ids"],
    )
    if ds.version != ref["dataset_version"]:
        raise DataValidationError(
            f"dataset {ref['dataset_version']} could not be rebuilt (got {ds.version})",
            reason="dataset_changed",
        )
    return ds


def finish(project: Project, run_id: str, status: str, reason: str, **values: Any) -> Ref:
    finish_with_reason(project, run_id, status, reason, **values)
    return {"run_id": run_id, "status": status, "reason": reason, "skipped": status == "skipped"}
