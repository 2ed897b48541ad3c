"""A person asks for a retrain: queue it for the scheduler, or run it now. Decided here, once.

Queue when a scheduler holds the project's lease (it owns retrains; racing it would only meet its
lock), unless the request is one a queue cannot carry (``as_of`` given, or a trigger other than
``manual``). Otherwise run: in the foreground (``wait=True``, the CLI, with a progress callback) or
on a background thread (``wait=False``, the control API), after taking the lock (a live retrain
holding it refuses the request) and recording who asked; the alerts follow the run
(:func:`~evergreen.control.alerts.after_action`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from evergreen.config import TRIGGER_KINDS
from evergreen.control.alerts import after_action
from evergreen.errors import BadInputError, LockHeldError, RunStoppedError, one_line, shown
from evergreen.logs import get_logger
from evergreen.pipeline import ProgressFn, RetrainOutcome, RetrainRequest, RetrainRunner
from evergreen.pipeline.stop import StopFlag
from evergreen.project import Project
from evergreen.store.audit import record_action
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.requests import enqueue_retrain, scheduler_running

log = get_logger(__name__)


@dataclass(frozen=True)
class RetrainTicket:
    """What became of a request: queued (``request_id``), ran (``outcome``) or started (``thread``)."""

    queued: bool
    request_id: str | None
    outcome: RetrainOutcome | None
    thread: threading.Thread | None
    message: str


@dataclass
class BackgroundRetrains:
    """The retrains a server started on its own threads (``wait=False``), and the flag that stops
    them when the server shuts down: each then ends ``abandoned`` at its next stage (a fit is cut
    at once) with the lock released, instead of being killed mid-stage with the process and left
    ``running`` until the next retrain marks it abandoned."""

    stop: StopFlag = field(default_factory=StopFlag)
    threads: list[threading.Thread] = field(default_factory=list)

    def keep(self, ticket: RetrainTicket) -> None:
        if ticket.thread is not None:
            self.threads = [t for t in self.threads if t.is_alive()] + [ticket.thread]

    def stop_all(self, timeout: float) -> list[str]:
        """Ask every running one to stop and wait up to ``timeout`` s in all; the names still alive."""
        self.stop.requested.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]


def check_trigger(trigger: str) -> None:
    """BadInputError unless ``trigger`` is one of the kinds a run can carry (a caller may check first,
    before it starts anything; :func:`request_retrain` checks anyway)."""
    if trigger not in TRIGGER_KINDS:
        raise BadInputError(
            f"trigger {shown(trigger)}: use one of {', '.join(TRIGGER_KINDS)}", details={"field": "trigger"}
        )


def request_retrain(
    project: Project,
    *,
    actor: str,
    reason: str | None = None,
    force: bool = False,
    as_of: datetime | None = None,
    trigger: str = "manual",
    wait: bool,
    progress: ProgressFn | None = None,
    background: BackgroundRetrains | None = None,
) -> RetrainTicket:
    """``background``: the server's holder of the runs it starts (``wait=False``); it keeps the
    thread and its flag stops the run at shutdown. ``trigger``: one of the trigger kinds, recorded on
    the run and its version (BadInputError otherwise: a typo would be a kind no filter finds)."""
    check_trigger(trigger)
    if trigger == "manual" and as_of is None and scheduler_running(project.store):
        rid = enqueue_retrain(project.store, reason, actor, force=force)
        return RetrainTicket(
            True, rid, None, None, f"a scheduler is running: retrain queued as request {rid}"
        )
    request = RetrainRequest(trigger=trigger, reason=reason, actor=actor, as_of=as_of, force=force)
    # Taken here, on the caller's thread, and handed to the run: a second request meanwhile (a double
    # click) finds it held and is refused, instead of both being accepted and audited while only one
    # can run (the background thread took the lock only later).
    lock = LeaseLock(project.store, retrain_lock_name(project.settings.project))
    try:
        lock.acquire()
    except LockHeldError as exc:
        run_id = (exc.details or {}).get("run_id")
        raise LockHeldError(
            f"a retrain is already running (run {run_id})", details={"run_id": run_id}
        ) from None
    try:
        # Whoever asked, in the trail, as for every human action (a CLI retrain named nobody).
        record_action(
            project.store,
            actor=actor,
            action="retrain_requested",
            target="retrain",
            reason=reason,
            after={"force": force, "queued": False},
        )
    except BaseException:
        lock.release()
        raise
    if wait:
        try:
            outcome = RetrainRunner(project, progress=progress).run(request, lock=lock)
        finally:
            lock.release()  # the runner released it, unless it failed before taking it over (idempotent)
        # A run waiting for approval is an alert now, not at the next action. (A failed run is told
        # to the person who ran it, in one line; its alert follows the next evaluation.)
        after_action(project)
        return RetrainTicket(False, None, outcome, None, f"{outcome.status}: {outcome.reason}")
    try:
        stop = background.stop if background is not None else None
        thread = threading.Thread(
            target=_run_in_background,
            args=(project, request, lock, stop),
            name="evergreen-retrain",
            daemon=True,
        )
        thread.start()
    except BaseException:
        lock.release()
        raise
    ticket = RetrainTicket(
        False,
        None,
        None,
        thread,
        "no scheduler is running: the retrain started in the background (see /api/runs)",
    )
    if background is not None:
        background.keep(ticket)
    return ticket


def _run_in_background(
    project: Project, request: RetrainRequest, lock: LeaseLock, stop: StopFlag | None
) -> None:
    try:
        RetrainRunner(project, stop=stop).run(request, lock=lock)
    except RunStoppedError as exc:  # the server is shutting down: the run is recorded abandoned
        log.info("background_retrain_stopped", error=one_line(exc))
        return
    except Exception as exc:  # recorded on the run by the runner; the server goes on
        log.error("background_retrain_failed", error=one_line(exc))
    finally:
        lock.release()  # the runner released it, unless it failed before taking it over (idempotent)
    after_action(project)
