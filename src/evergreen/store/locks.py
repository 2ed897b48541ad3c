"""A lease lock in the metadata database: one retrain per project at a time.

The holder refreshes ``expires_at`` from a heartbeat thread. A lock whose lease ran out, or whose
holder process is gone from this host, is taken over by the next caller (a SIGKILLed run cannot
release anything, so the lease is what frees it).

An orchestrated run (Airflow, Prefect) runs each stage in a task of its own, often in another
process: between two tasks no process holds the lock, so the task that ends parks it
(:meth:`LeaseLock.park`) under the run's own name (:func:`run_holder`, no pid, no host) for a lease
long enough to cover the orchestrator's gap and retry delay, and the run's next task resumes it.
Meanwhile the lock is held like any other: a person's retrain or a scheduler's is refused, instead
of marking the run abandoned because the process that opened it has exited.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from evergreen.errors import LeaseLostError, LockHeldError, one_line
from evergreen.logs import get_logger
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.tables import locks

HOST = socket.gethostname()
log = get_logger(__name__)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class LockState:
    name: str
    holder: str
    run_id: str | None
    pid: int | None
    host: str | None
    expired: bool


def holder_is_dead(row: LockState) -> bool:
    return row.expired or (row.host == HOST and not pid_alive(row.pid))


def run_holder(run_id: str) -> str:
    """The holder of a lock parked between two tasks of the orchestrated run ``run_id``."""
    return f"run:{run_id}"


def retrain_lock_name(project: str) -> str:
    """The lock every retrain of ``project`` holds (runner, orchestrator stage, control action)."""
    return f"retrain:{project}"


def settings_lock_name(project: str) -> str:
    """The lock a change of ``project``'s run-time thresholds holds while it reads and writes them."""
    return f"settings:{project}"


def models_lock_name(project: str) -> str:
    """The lock a human action on ``project``'s models holds (promote, rollback, approve, reject)."""
    return f"models:{project}"


@dataclass
class LeaseLock:
    store: Store
    name: str
    lease_seconds: float = 60.0
    run_id: str | None = None
    holder: str = field(default_factory=lambda: f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    # Set when the heartbeat finds the lock held by another (taken over once the lease ran out, e.g.
    # while the database was unreachable); the heartbeat then stops, since the lock is not ours again.
    lost: threading.Event = field(default_factory=threading.Event)
    taken_over: LockState | None = None
    # A parked holder this lock takes over even while its lease runs: the run's own, between two
    # of its tasks (:func:`run_holder`).
    resumes: str | None = None

    def current(self) -> LockState | None:
        with self.store.connect() as conn:
            row = conn.execute(select(locks).where(locks.c.name == self.name)).mappings().first()
        if row is None:
            return None
        expires = as_utc(row["expires_at"])
        return LockState(
            name=row["name"],
            holder=row["holder"],
            run_id=row["run_id"],
            pid=row["pid"],
            host=row["host"],
            expired=expires is not None and expires < utcnow(),
        )

    def acquire(self) -> LeaseLock:
        now = utcnow()
        values = {
            "name": self.name,
            "holder": self.holder,
            "run_id": self.run_id,
            "pid": os.getpid(),
            "host": HOST,
            "acquired_at": now,
            "expires_at": now + timedelta(seconds=self.lease_seconds),
        }
        try:
            with self.store.begin() as conn:
                conn.execute(insert(locks).values(**values))
        except IntegrityError:
            state = self.current()
            ours = state is not None and self.resumes is not None and state.holder == self.resumes
            if state is None or not (ours or holder_is_dead(state)):
                raise LockHeldError(
                    f"the lock {self.name!r} is held (holder {state.holder if state else '?'}"
                    f", run {state.run_id if state else '?'})",
                    details={
                        "holder": state.holder if state else None,
                        "run_id": state.run_id if state else None,
                    },
                ) from None
            # Take over only if nobody else did in between: match on the dead holder.
            with self.store.begin() as conn:
                res = conn.execute(
                    update(locks)
                    .where(locks.c.name == self.name, locks.c.holder == state.holder)
                    .values(**{k: v for k, v in values.items() if k != "name"})
                )
            if res.rowcount != 1:
                raise LockHeldError(f"lock {self.name!r} was taken by another process") from None
            self.taken_over = state
        self._start_heartbeat()
        return self

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self.lost.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def _renew(self) -> bool:
        """Extend the lease if this process still holds it: one row, matched on the holder."""
        with self.store.begin() as conn:
            res = conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == self.holder)
                .values(expires_at=utcnow() + timedelta(seconds=self.lease_seconds))
            )
        return res.rowcount == 1

    def holds(self) -> bool:
        """Renew the lease now if it is still this holder's (True); once another holds it, False and
        :attr:`lost` set. Its heartbeat learns that only a third of the lease later; a caller about to
        act (a scheduler's pass) asks here first. The database unreachable raises, as it does."""
        if self.lost.is_set():
            return False
        if self._renew():
            return True
        self.lost.set()
        return False

    def confirm(self, before: str) -> None:
        """Prove the lease is still ours right before ``before`` (register, move the alias): the fence.

        A heartbeat that failed long enough lets another process take the lock over; from then on
        this one must not act. Raises :class:`LeaseLostError` (also when the database cannot say).
        """
        try:
            held = self._renew()
        except Exception as exc:
            raise LeaseLostError(
                f"cannot confirm the lease {self.name!r} before {before}: {one_line(exc)}"
            ) from exc
        if not held:
            state = self.current()
            raise LeaseLostError(
                f"the lease {self.name!r} was taken over (now held by {state.holder if state else 'nobody'}) "
                f"before {before}: this run stops",
                details={"holder": state.holder if state else None, "before": before},
            )

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                if not self._renew():
                    log.error("lease_lost", lock=self.name, holder=self.holder, run_id=self.run_id)
                    self.lost.set()
                    return
            except Exception as exc:  # a missed beat only shortens the lease; the next one retries
                log.warning("lease_heartbeat_failed", lock=self.name, run_id=self.run_id, error=one_line(exc))

    def set_run(self, run_id: str) -> None:
        self.run_id = run_id
        with self.store.begin() as conn:
            conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == self.holder)
                .values(run_id=run_id)
            )

    def park(self, holder: str, lease_seconds: float) -> bool:
        """Hand the lock to ``holder`` (no process: a run between two of its tasks) for
        ``lease_seconds`` and stop renewing it; False if it was no longer ours to hand over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.store.begin() as conn:
            res = conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == self.holder)
                .values(
                    holder=holder,
                    pid=None,
                    host=None,
                    expires_at=utcnow() + timedelta(seconds=lease_seconds),
                )
            )
        return res.rowcount == 1

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.store.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == self.name, locks.c.holder == self.holder))

    def __enter__(self) -> LeaseLock:
        return self.acquire()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
