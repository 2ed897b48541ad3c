"""The embedded scheduler: watch the landing dir, run monitoring, evaluate triggers, start retrains.

One loop does everything in order (ingest → monitoring → triggers → retrain), so a retrain never
races the scheduler's own ingest, and firings that arrive while a retrain runs are simply seen by the
next evaluation: however many there were, they make at most one follow-up run. The retrain lock in
the metadata DB keeps other processes (the CLI, a second host) out; a ``scheduler:<project>`` lease
keeps a second scheduler out and tells :func:`evergreen.control.request_retrain` to queue manual
requests for it. The trigger thresholds are read through
:func:`evergreen.overrides.effective_settings` at every evaluation, so a run-time override
(``PUT /api/settings/thresholds``) applies from the next tick.

Use it from the CLI (:meth:`Scheduler.run_forever`, SIGTERM-aware) or embedded in an app
(:meth:`start` / :meth:`stop`, e.g. from a FastAPI lifespan).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from croniter import croniter

from evergreen.data.ingest import IngestResult, ingest_file
from evergreen.data.landing import landing_files
from evergreen.data.remote_landing import RemoteWatch
from evergreen.errors import LockHeldError, RunStoppedError, StoreError, one_line
from evergreen.logs import get_logger
from evergreen.overrides import effective_settings
from evergreen.pipeline.stop import StopFlag
from evergreen.project import Project
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, retrain_lock_name
from evergreen.store.requests import requeue_orphans, scheduler_lock_name
from evergreen.store.runs import mark_abandoned
from evergreen.triggers.evaluate import Evaluation, evaluate
from evergreen.triggers.execute import Attempt, RetrainExecutor
from evergreen.triggers.state import gather_state
from evergreen.triggers.warmup import warm_up

log = get_logger("evergreen.scheduler")
Clock = Callable[[], datetime]

# The longest the idle loop goes without looking at the stop flag a signal sets.
IDLE_SLICE_SECONDS = 0.5


def next_tick(schedule: str | None, after: datetime) -> datetime | None:
    return None if not schedule else croniter(schedule, after).get_next(datetime)


def settled(paths: list[Path], settle_seconds: float, now_ts: float) -> tuple[list[Path], float | None]:
    """Files not modified for ``settle_seconds`` (a writer is done), and when to look at the rest."""
    ready, wait = [], None
    for p in paths:
        try:
            age = now_ts - p.stat().st_mtime
        except FileNotFoundError:
            continue
        if age >= settle_seconds:
            ready.append(p)
        else:
            wait = max(wait or 0.0, settle_seconds - age)
    return ready, wait


@dataclass
class TickReport:
    """What one pass of the loop did (tests and the benchmark read it)."""

    ingested: list[IngestResult] = field(default_factory=list)
    monitoring: str | None = None
    gc: str | None = None  # retention pass: ran | failed | stopped | None (not due)
    watch: str | None = None  # the watch after a promotion: kept | regressed | insufficient_data | failed
    evaluation: Evaluation | None = None
    attempt: Attempt | None = None


class Scheduler:
    def __init__(self, project: Project, *, clock: Clock = utcnow) -> None:
        self.project = project
        self.settings = project.settings
        self.cfg = project.settings.triggers
        self.clock = clock
        # SIGTERM sets it; the run checks it between stages and its fitting watches it
        # (pipeline.stop): never mid alias move.
        self.stop_flag = StopFlag()
        self.executor = RetrainExecutor(project, self.cfg, stop=self.stop_flag)
        self._stop = threading.Event()
        self.standby_poll_seconds = 2.0  # a standby replica tries the scheduler lease this often
        self.lease_seconds = 60.0  # the scheduler lease: renewed every third of it while this one runs
        self._wake = threading.Event()
        self._watching = threading.Event()  # the landing watcher is (about to be) watching
        self._threads: list[threading.Thread] = []
        self._lease: LeaseLock | None = None
        self._closing = threading.Lock()  # stop() and a standby thread it gave up on may both close
        self.started_at: datetime | None = None
        self.last_tick_at: datetime | None = None  # exported on /metrics: the loop is alive
        self.last_monitoring: datetime | None = None
        self.last_gc: datetime | None = None
        self.retry_at: datetime | None = None
        self.next_look: float = 0.0  # monotonic time a young landing file is due
        self._remote: RemoteWatch | None = None  # an object-store landing, opened at the first pass

    # ---- lifecycle -----------------------------------------------------------------------------
    def open(self) -> None:
        """Take the scheduler lease and clean up after a scheduler that died (idempotent)."""
        if self._lease is not None:
            return
        store = self.project.store
        name = scheduler_lock_name(self.settings.project)
        self._lease = LeaseLock(store, name, lease_seconds=self.lease_seconds).acquire()
        self.started_at = self.last_monitoring = self.last_gc = self.clock()
        abandoned = self._abandon_dead_runs()
        if abandoned:
            log.warning("runs_abandoned", runs=abandoned)
        requeued = requeue_orphans(store)
        # Before saying it is ready: the first arrival must not wait for cold imports (issue 9).
        warm_up(self.project)
        log.info("scheduler_started", project=self.settings.project, pid=os.getpid(), requeued=requeued)

    def _abandon_dead_runs(self) -> list[str]:
        """Mark the runs left running by a process that is gone abandoned, under the retrain lock.

        Only the lock makes it so: a reading of it is no proof (a retrain may take it and open its
        run between the reading and the marking), and a lease that ran out while the database was
        away may still be renewed by its live holder (a retrain of ``serve`` in this very process),
        whose run would then go on, and promote, under an "abandoned" row. Taking the lock over ends
        that holder's lease too (its fence stops it). Held by a live run: nothing is dead.
        """
        store = self.project.store
        try:
            lock = LeaseLock(store, retrain_lock_name(self.settings.project)).acquire()
        except LockHeldError:
            return []
        try:
            return mark_abandoned(store, lock_free=True)
        finally:
            lock.release()

    def close(self) -> None:
        """Release the scheduler lease if this scheduler holds it (idempotent, from any thread)."""
        with self._closing:
            lease, self._lease = self._lease, None
        if lease is not None:
            try:
                lease.release()
            except StoreError as exc:
                # The database away as the scheduler stops: its heartbeat has stopped, so the lease
                # runs out by itself and the next scheduler takes it then. A stop is still a stop
                # (SIGTERM made `evergreen scheduler` exit 1 with the database's error).
                log.warning(
                    "scheduler_lease_not_released",
                    project=self.settings.project,
                    error=one_line(exc),
                    expires_in_seconds=lease.lease_seconds,
                )
            log.info("scheduler_stopped", project=self.settings.project)

    def start(self) -> Scheduler:
        """Run in background threads (for an app's lifespan); :meth:`stop` ends them.

        When another process holds the scheduler lease (a second ``serve --scheduler`` replica),
        this one waits as a standby, trying the lease every :attr:`standby_poll_seconds`, and takes
        over when the other stops (or dies and its lease runs out).
        """
        self._stop.clear()
        self.stop_flag.requested.clear()
        try:
            self.open()
        except LockHeldError as exc:
            log.info(
                "scheduler_standby", project=self.settings.project, holder=(exc.details or {}).get("holder")
            )
            self._spawn(self._standby, "evergreen-scheduler-standby")
            return self
        self._start_watcher()
        self._spawn(self._active_then_close, "evergreen-scheduler")
        return self

    def _active_then_close(self) -> None:
        # After a step down the loop's thread takes the lease back (:meth:`_active`); stop() may
        # have given up joining it meanwhile (a slow database), as for a standby's (:meth:`_standby`).
        try:
            self._active()
        finally:
            self.close()

    @property
    def standby(self) -> bool:
        """Waiting for another process's scheduler lease (not running the loop)."""
        return self._lease is None and bool(self._threads)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _standby(self) -> None:
        if not self._wait_for_lease():
            return
        # stop() may have given up joining this thread while open() took the lease (a slow
        # database): the thread that took it releases it, or it would be renewed until exit.
        try:
            if not self._stop.is_set():
                log.info("scheduler_took_over", project=self.settings.project)
                self._start_watcher()
                self._active()
        finally:
            self.close()

    def _wait_for_lease(self) -> bool:
        """Try the scheduler lease every :attr:`standby_poll_seconds` until this scheduler holds it
        (True) or is stopped (False)."""
        while not self._stopping():
            self._idle(self.standby_poll_seconds)  # a signal's stop flag is seen here too
            if self._stopping():
                break
            try:
                self.open()
            except LockHeldError:
                continue
            except Exception as exc:  # the database away for a moment: keep waiting
                log.warning("scheduler_standby_failed", error=one_line(exc))
                continue
            return True
        return False

    def _lease_lost(self) -> bool:
        """Whether the lease turned out another's, proved right before a pass: the heartbeat learns
        it a third of the lease later only, and a pass meanwhile (back from an outage the other
        replica had taken the lease) would ingest, monitor and retrain beside the other scheduler.
        The database unreachable: not known lost (the pass fails on the database, logged once)."""
        lease = self._lease
        if lease is None:
            return False
        try:
            return not lease.holds()
        except Exception:
            return False

    def _active(self) -> None:
        """The loop, for as long as this scheduler holds the lease.

        Its heartbeat cannot renew the lease while the database is unreachable; once the lease ran
        out another replica's standby may take it. From then on this one is the standby: it ends
        its pass, stops its passes and waits for the lease like any standby (else two schedulers
        would ingest, monitor and retrain side by side).
        """
        while True:
            self._loop()
            if self._stopping():
                return
            with self._closing:
                lost, self._lease = self._lease, None
            try:
                now_held = lost.current() if lost is not None else None
            except Exception:  # the database away again: the line goes out without the new holder
                now_held = None
            log.warning(
                "scheduler_lease_lost",
                project=self.settings.project,
                holder=now_held.holder if now_held else None,
            )
            if not self._wait_for_lease():
                return
            log.info("scheduler_took_over", project=self.settings.project)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop; a retrain in progress stops before its next stage (up to ``timeout``)."""
        self._stop.set()
        self._wake.set()
        self.stop_flag.requested.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        self.close()

    def run_forever(self) -> None:
        """Run in this (main) thread until SIGTERM/SIGINT; a running retrain is abandoned cleanly."""
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

        received: list[str] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # It runs in the main thread between two bytecodes, wherever that thread is, so it only
            # sets the one flag the main thread never locks (it only reads it): no log line (a write
            # to stderr may be half done), no exception (a lock may be held, a transaction open, a
            # fork half done), no _wake.set() (the loop may hold that event's lock right now). The
            # loop's idle wait and the fitting's wait look at the flag every fraction of a second; a
            # running stage other than the fitting runs to its end and the run stops before the
            # next one (the alias move and its audit row are never split).
            received.append(signal.Signals(signum).name)
            self.stop_flag.requested.set()

        for s in previous:
            signal.signal(s, on_signal)
        try:
            self.open()  # inside: a failed start (the lease held elsewhere) puts the handlers back too
            self._start_watcher()
            self._active()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            self._stop.set()
            if received:
                log.info("scheduler_signal", signal=received[0])
            self.close()

    # ---- loop ----------------------------------------------------------------------------------
    def _start_watcher(self) -> None:
        if not self.cfg.watch_landing or self.settings.data.landing_dir is None:
            # An object-store prefix sends no events here: the loop lists it every scan interval.
            return
        self._watching.clear()
        t = threading.Thread(target=self._watch, name="evergreen-landing-watch", daemon=True)
        t.start()
        # The first tick lists the landing dir after this: a file that lands before the watcher
        # watches is found by that listing, not left to the scan interval.
        self._watching.wait(5.0)
        self._threads.append(t)

    def _watch(self) -> None:
        """Filesystem events wake the loop at once; without them the scan interval still finds files."""
        try:
            from watchfiles import watch
        except ImportError:
            log.info("landing_watch_unavailable", fallback_seconds=self.cfg.scan_interval_seconds)
            self._watching.set()
            return
        landing = self.settings.data.landing_dir
        assert landing is not None  # _start_watcher watches directories only
        landing.mkdir(parents=True, exist_ok=True)
        self._watching.set()
        try:
            for _changes in watch(
                landing,
                stop_event=self._stop,
                debounce=20,
                step=10,
                recursive=False,
                raise_interrupt=False,
                rust_timeout=1000,
            ):
                self._wake.set()
        except Exception as exc:  # e.g. inotify limits: polling by scan interval still works
            log.warning(
                "landing_watch_failed", error=str(exc), fallback_seconds=self.cfg.scan_interval_seconds
            )

    def _stopping(self) -> bool:
        return self._stop.is_set() or self.stop_flag.requested.is_set()

    def _loop(self) -> None:
        """Passes until stopped, or until the lease turns out taken over (:meth:`_active`)."""
        while not self._stopping() and not self._lease_lost():
            try:
                self.tick()
            except Exception as exc:  # one bad pass (DB down) must not end the loop: log and wait
                log.error("scheduler_tick_failed", error=one_line(exc))
            self._idle(self._sleep_seconds())

    def _idle(self, seconds: float) -> None:
        """Wait ``seconds``, or until a landing file or :meth:`stop` wakes the loop; a signal only
        sets the stop flag (see :meth:`run_forever`), seen here within :data:`IDLE_SLICE_SECONDS`."""
        deadline = time.monotonic() + seconds
        while not self._stopping():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.wait(min(left, IDLE_SLICE_SECONDS)):
                break
        self._wake.clear()

    def _sleep_seconds(self) -> float:
        now = self.clock()
        due = [now + timedelta(seconds=self.cfg.scan_interval_seconds)]
        for when in (
            next_tick(self.cfg.schedule, now),
            next_tick(self.settings.monitoring.schedule, now),
            self.retry_at,
        ):
            if when is not None:
                due.append(when)
        wait = max(0.0, (min(due) - now).total_seconds())
        if self.next_look:
            wait = min(wait, max(0.0, self.next_look - time.monotonic()))
        return wait

    def tick(self) -> TickReport:
        """One pass: ingest settled landing files, monitoring if due, then triggers (and a retrain)."""
        self.last_tick_at = self.clock()
        report = TickReport(ingested=self.ingest_new())
        now = self.clock()
        report.monitoring = self.monitor_if_due(now)
        report.gc = self.gc_if_due(now)
        report.watch = self.check_watch(now)
        if self.retry_at is not None and now < self.retry_at:
            return report
        self.retry_at = None
        state = gather_state(self.project, self.started_at or now, frozenset(self.executor.exhausted))
        # The thresholds in force now (file + run-time overrides), not the ones read at start.
        cfg = effective_settings(self.project).triggers
        ev = report.evaluation = evaluate(state, cfg, now)
        if ev.suppressed:
            log.info("triggers_cooling_down", until=ev.cooldown_until, kinds=[f.kind for f in ev.suppressed])
        # Asked to stop during this pass (a signal, stop()): a run started now would only be
        # abandoned at its first stage, and an abandoned run reads as a failing retrain. The
        # firings stay due for the next scheduler.
        if ev.firings and not self._stopping():
            report.attempt = self._retrain(ev, now)
        if report.monitoring == "ran" or report.attempt is not None:
            self.raise_alerts()
        return report

    def raise_alerts(self) -> None:
        """Turn the new facts (drift report, run outcome) into alerts; never stops the loop."""
        from evergreen.alerts import raise_alerts

        try:
            raise_alerts(self.project)
        except Exception as exc:  # alerting is best effort here; its own retries live in the channels
            log.error("alerts_failed", error=one_line(exc))

    def ingest_new(self) -> list[IngestResult]:
        if self.settings.data.landing_url is not None:
            return self._ingest_remote()
        files = landing_files(self.settings)
        if not files:
            self.next_look = 0.0
            return []
        ready, wait = settled(files, self.cfg.settle_seconds, time.time())
        self.next_look = time.monotonic() + wait if wait is not None else 0.0
        results = [ingest_file(self.settings, self.project.store, p, os.environ, move=True) for p in ready]
        for r in results:
            log.info("ingested", file=Path(r.source).name, status=r.status, rows=r.rows, reason=r.reason)
        return results

    def _ingest_remote(self) -> list[IngestResult]:
        """List the prefix; ingest what is complete. The store being unreachable is logged and
        tried again at the next pass: it must not keep monitoring or the other triggers from running."""
        from evergreen.data.remote_landing import ingest_objects, open_watch

        try:
            if self._remote is None:
                self._remote = open_watch(self.settings)
            due, wait = self._remote.due(self.settings, self.cfg.settle_seconds)
            self.next_look = time.monotonic() + wait if wait is not None else 0.0
            results = ingest_objects(self.settings, self.project.store, self._remote.landing, due, os.environ)
        except OSError as exc:  # s3fs/gcsfs: connection and permission errors are OSErrors
            shown = self._remote.landing.shown if self._remote else "data.landing"
            log.error("landing_unavailable", landing=shown, error=one_line(exc))
            return []
        for r in results:
            log.info("ingested", file=r.source, status=r.status, rows=r.rows, reason=r.reason)
        return results

    def check_watch(self, now: datetime) -> str | None:
        """The watch after a promotion (auto-rollback); a failure is logged, never raised, but for the
        metadata database being unreachable (the pass fails on it, :meth:`_loop` logs it)."""
        from evergreen.control.watch import check_watch

        try:
            judgement = check_watch(self.project, now)
        except StoreError:
            # The metadata database away: the rest of the pass needs it too, so the pass fails and
            # the loop logs it once (scheduler_tick_failed), not twice at every scan interval.
            raise
        except Exception as exc:  # e.g. MLflow unreachable for the rollback: the next tick tries again
            log.error("watch_failed", error=one_line(exc))
            return "failed"
        return judgement.verdict if judgement else None

    def gc_if_due(self, now: datetime) -> str | None:
        """The retention pass on ``retention.schedule`` (daily); a failure is logged, never raised."""
        schedule = self.settings.retention.schedule
        since = self.last_gc or now
        if not schedule or croniter(schedule, now).get_prev(datetime) <= since:
            return None
        self.last_gc = now
        from evergreen.retention.apply import run_gc
        from evergreen.retention.plan import policy_from

        try:
            run_gc(self.project, policy_from(self.settings.retention), now, stop=self.stop_flag.requested)
            return "ran"
        except RunStoppedError:  # SIGTERM while it waited for the models lease: the next pass goes on
            log.info("gc_stopped")
            return "stopped"
        except Exception as exc:  # e.g. a retrain holds the lock: the next day's pass tries again
            log.error("gc_failed", error=one_line(exc))
            return "failed"

    def monitor_if_due(self, now: datetime) -> str | None:
        schedule = self.settings.monitoring.schedule
        since = self.last_monitoring or now
        if not schedule or croniter(schedule, now).get_prev(datetime) <= since:
            return None
        self.last_monitoring = now
        from evergreen.monitoring.job import run_scheduled_monitoring

        try:
            run_scheduled_monitoring(self.project, now)
            return "ran"
        except Exception as exc:  # monitoring failing must not stop retrains on other triggers
            log.error("monitoring_failed", error=one_line(exc))
            return "failed"

    def _retrain(self, ev: Evaluation, now: datetime) -> Attempt:
        attempt = self.executor.run(ev.firings, now)
        self.retry_at = attempt.retry_at
        return attempt


def describe(tick: TickReport) -> dict[str, Any]:
    ev = tick.evaluation
    return {
        "ingested": [r.source for r in tick.ingested],
        "monitoring": tick.monitoring,
        "gc": tick.gc,
        "watch": tick.watch,
        "fired": [f.kind for f in ev.firings] if ev else [],
        "suppressed": [f.kind for f in ev.suppressed] if ev else [],
        "attempt": tick.attempt.status if tick.attempt else None,
        "run_id": tick.attempt.run_id if tick.attempt else None,
    }
