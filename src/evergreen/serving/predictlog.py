"""The prediction log: a background writer that batches prediction records into the metadata DB.

Requests only append to a bounded in-memory queue (never touching the database). A writer thread
drains it in batches of ``batch_size`` rows, one transaction each. When the queue is full, or the
database is unreachable, records go to the :class:`SpillFile` instead and are replayed once a write
succeeds again; :meth:`PredictionLog.close` drains everything (to the DB, or else to the spill file).
So a record is always in exactly one of: the queue, the spill file, the ``predictions`` table.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite

from evergreen.logs import get_logger
from evergreen.serving.spill import SpillFile
from evergreen.store.engine import Store
from evergreen.store.tables import predictions

log = get_logger(__name__)
Counter = Callable[[int], None]


def _noop(_n: int) -> None:
    return None


def insert_predictions(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, ignoring ids already stored (a replay after a write whose commit was not seen)."""
    values = [{**r, "created_at": _ts(r["created_at"])} for r in rows]
    stmt: Insert
    if store.engine.dialect.name == "postgresql":
        stmt = postgresql.insert(predictions).on_conflict_do_nothing(index_elements=["id"])
    elif store.engine.dialect.name == "sqlite":
        stmt = sqlite.insert(predictions).on_conflict_do_nothing(index_elements=["id"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        stmt = predictions.insert()
    with store.begin() as conn:
        conn.execute(stmt, values)


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class PredictionLog:
    def __init__(
        self,
        store: Store,
        spill: SpillFile,
        *,
        queue_size: int,
        batch_size: int,
        retry_seconds: float = 1.0,
        linger_seconds: float = 0.1,
        on_written: Counter = _noop,
        on_spilled: Counter = _noop,
    ) -> None:
        self.store = store
        self.spill = spill
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.retry_seconds = retry_seconds
        self.linger_seconds = linger_seconds
        self._flush_now = False
        self._on_written = on_written
        self._on_spilled = on_spilled
        self._queue: deque[dict[str, Any]] = deque()
        self._cv = threading.Condition()
        self._inflight = 0
        self._unwritten: set[str] = set()  # ids not yet committed: queued, being written or spilled
        self._stop = False
        self._db_down = False
        self._next_retry = 0.0
        self._spill_waiting = spill.has_data()  # left over by an earlier process: replay it
        self._thread = threading.Thread(target=self._run, name="evergreen-predlog", daemon=True)

    # ---- called from the event loop ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def db_down(self) -> bool:
        return self._db_down

    def submit(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue rows for writing; never blocks on the database. A full queue spills them instead."""
        with self._cv:
            self._unwritten.update(r["id"] for r in rows)
            fits = len(self._queue) + len(rows) <= self.queue_size and not self._stop
            if fits:
                was_empty = not self._queue
                self._queue.extend(rows)
                # Wake the writer for the first rows and for a full batch, not for every request.
                if was_empty or len(self._queue) >= self.batch_size:
                    self._cv.notify()
        if not fits:
            self._spill(rows, reason="queue_full")

    def unwritten(self, prediction_id: str) -> bool:
        return prediction_id in self._unwritten

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty and no batch is being written; True if the DB took them all."""
        deadline = time.monotonic() + timeout
        with self._cv:
            self._flush_now = True
            self._cv.notify_all()
            while self._queue or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return not self._db_down and not self._spill_waiting

    def close(self, timeout: float = 30.0) -> None:
        """Graceful shutdown: write (or spill) everything queued, try a last replay, stop the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)
        with self._cv:  # the thread did not finish in time: nothing may be left only in memory
            rest = list(self._queue)
            self._queue.clear()
        if rest:
            self._spill(rest, reason="shutdown")

    # ---- the writer thread -------------------------------------------------------------------------
    def _spill(self, rows: Sequence[dict[str, Any]], *, reason: str) -> None:
        self.spill.append(rows)
        self._spill_waiting = True
        self._on_spilled(len(rows))
        log.warning("prediction_log_spilled", rows=len(rows), reason=reason, path=str(self.spill.path))

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        insert_predictions(self.store, rows)
        with self._cv:
            self._unwritten.difference_update(r["id"] for r in rows)
        self._on_written(len(rows))

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if self._db_down and time.monotonic() < self._next_retry:
            self._spill(batch, reason="database_down")
            return
        try:
            self._insert(batch)
        except Exception as exc:
            self._mark_down(exc)
            self._spill(batch, reason="database_down")
            return
        if self._db_down:
            log.info("prediction_log_database_back")
        self._db_down = False

    def _mark_down(self, exc: BaseException) -> None:
        if not self._db_down:
            log.error(
                "prediction_log_database_unavailable", error=str(exc).splitlines()[0] if str(exc) else ""
            )
        self._db_down = True
        self._next_retry = time.monotonic() + self.retry_seconds

    def _replay(self) -> None:
        if time.monotonic() < self._next_retry:
            return
        try:
            n = self.spill.replay(self._insert)
        except Exception as exc:
            self._mark_down(exc)
            return
        self._db_down = False
        self._spill_waiting = False
        if n:
            log.info("prediction_log_replayed", rows=n)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stop and not self._spill_waiting:
                    self._cv.wait()
                if not self._queue and not self._stop:  # only spilled rows wait: retry at a pace
                    self._cv.wait(max(0.0, self._next_retry - time.monotonic()))
                # Linger a little so one transaction carries many rows: a commit per request would
                # cost the event loop (same GIL) more than the requests themselves.
                deadline = time.monotonic() + self.linger_seconds
                while 0 < len(self._queue) < self.batch_size and not (self._stop or self._flush_now):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                self._flush_now = False
                n = min(self.batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
                self._inflight = n
                stopping = self._stop and not self._queue
            if batch:
                self._write(batch)
            if self._spill_waiting:
                self._replay()
            with self._cv:
                self._inflight = 0
                self._cv.notify_all()
            if stopping:
                if self._spill_waiting:
                    self._next_retry = 0.0
                    self._replay()
                return
