"""Start one retrain for a set of firings: lock, retries with backoff, failure reporting.

Whether an error is worth retrying and how long to wait are pure functions; :class:`RetrainExecutor`
only carries them out and keeps the small amount of memory the scheduler needs between ticks (the
pending retry and the causes that failed for good).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evergreen.config import TriggersConfig
from evergreen.errors import (
    LeaseLostError,
    LockHeldError,
    RunStoppedError,
    StoreError,
    is_transient,
    one_line,
)
from evergreen.logs import get_logger
from evergreen.pipeline import ProgressFn, RetrainOutcome, RetrainRequest, RetrainRunner
from evergreen.pipeline.records import report_failure
from evergreen.pipeline.stop import StopFlag
from evergreen.project import Project
from evergreen.ratelimit import backoff_delay as backoff_delay  # its home; the name stays here too
from evergreen.store.requests import DONE, FAILED, QUEUED, RUNNING, mark_requests
from evergreen.triggers.evaluate import TriggerFiring, combine

log = get_logger("evergreen.triggers")


def retrain_request(firings: Sequence[TriggerFiring]) -> RetrainRequest:
    kind, reason = combine(list(firings))
    manual = [f for f in firings if f.kind == "manual"]
    actors = sorted({f.actor for f in manual if f.actor})
    return RetrainRequest(
        trigger=kind,
        reason=reason,
        actor=",".join(actors) if kind == "manual" and actors else "system",
        force=any(bool(f.numbers.get("force")) for f in manual),
    )


@dataclass
class Attempt:
    """What happened when the executor tried: ``outcome`` on success, else the error and the plan."""

    status: str  # ran | lock_held | retry | failed | stopped | abandoned (lease taken over)
    outcome: RetrainOutcome | None = None
    run_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None


@dataclass
class RetrainExecutor:
    project: Project
    config: TriggersConfig
    progress: ProgressFn | None = None
    attempts: int = 0  # consecutive transient failures of the current firings
    exhausted: set[str] = field(default_factory=set)  # causes that failed for good
    current_run: str | None = None
    stop: StopFlag | None = None  # the scheduler's SIGTERM flag, handed to every run

    def _progress(self, event: str, data: dict[str, Any]) -> None:
        if event == "step" and data.get("run_id"):
            self.current_run = str(data["run_id"])
        if self.progress is not None:
            self.progress(event, data)

    def run(self, firings: Sequence[TriggerFiring], now: datetime) -> Attempt:
        request = retrain_request(firings)
        request_ids = [f.request_id for f in firings if f.request_id]
        store = self.project.store
        mark_requests(store, request_ids, RUNNING)
        self.current_run = None
        log.info(
            "retrain_starting",
            trigger=request.trigger,
            reason=request.reason,
            causes=[f.cause for f in firings],
        )
        try:
            outcome = RetrainRunner(self.project, progress=self._progress, stop=self.stop).run(request)
        except (RunStoppedError, LeaseLostError) as exc:
            # Stopped between stages (SIGTERM), or another process took the retrain lease over: the
            # run is recorded as abandoned, not failed (no failure alert, the causes stay live); a
            # later run serves these firings. The database may be what lost the lease: the requests
            # then stay "running" and the next scheduler start requeues them.
            with contextlib.suppress(StoreError):
                mark_requests(store, request_ids, QUEUED)
            status = "stopped" if isinstance(exc, RunStoppedError) else "abandoned"
            return Attempt(status, run_id=self.current_run, error=exc.message)
        except LockHeldError as exc:
            # Another process runs a retrain: these firings wait for it and form the follow-up run.
            mark_requests(store, request_ids, QUEUED)
            return Attempt("lock_held", error=exc.message)
        except Exception as exc:
            return self._failed(firings, request_ids, exc, now)
        except BaseException:
            mark_requests(store, request_ids, QUEUED)  # stopped: a later scheduler runs them
            raise
        self.attempts = 0
        mark_requests(
            store, request_ids, DONE, run_id=outcome.run_id, result=f"{outcome.status}: {outcome.reason}"
        )
        return Attempt("ran", outcome=outcome, run_id=outcome.run_id)

    def _report(
        self,
        run_id: str | None,
        firings: Sequence[TriggerFiring],
        msg: str,
        *,
        transient: bool,
        attempts: int,
    ) -> None:
        report_failure(
            self.project,
            run_id,
            msg,
            triggers=[f.kind for f in firings],
            causes=[f.cause for f in firings],
            transient=transient,
            attempts=attempts,
        )

    def _failed(
        self, firings: Sequence[TriggerFiring], request_ids: list[str], exc: Exception, now: datetime
    ) -> Attempt:
        msg = one_line(exc, with_code=True)
        transient = is_transient(exc)
        run_id = self.current_run
        if transient and self.attempts < self.config.max_retries:
            self.attempts += 1
            delay = backoff_delay(self.attempts, self.config.backoff_seconds, self.config.backoff_max_seconds)
            log.warning(
                "retrain_transient_failure",
                run_id=run_id,
                error=msg,
                attempt=self.attempts,
                retry_in_seconds=delay,
            )
            self._report(run_id, firings, msg, transient=True, attempts=self.attempts)
            # If this write fails too, the requests stay "running": the next scheduler start requeues them.
            with contextlib.suppress(StoreError):
                mark_requests(self.project.store, request_ids, QUEUED)
            return Attempt("retry", run_id=run_id, error=msg, retry_at=now + timedelta(seconds=delay))
        attempts, self.attempts = self.attempts + 1, 0
        # Deterministic, or out of retries: these causes are done until something new happens.
        self.exhausted.update(f.cause for f in firings)
        log.error("retrain_failed", run_id=run_id, error=msg, transient=transient, attempts=attempts)
        self._report(run_id, firings, msg, transient=transient, attempts=attempts)
        with contextlib.suppress(StoreError):
            mark_requests(self.project.store, request_ids, FAILED, run_id=run_id, result=msg)
        return Attempt("failed", run_id=run_id, error=msg)
