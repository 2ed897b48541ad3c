"""The prediction log: a background writer that batches prediction records into the metadata DB.

Requests only append to a bounded in-memory queue (never touching the database). A writer thread
drains it in batches of ``batch_size`` rows, one transaction each. When the queue is full, or the
database is unreachable, records go to the :class:`SpillFile` instead and are replayed once a write
succeeds again; :meth:`PredictionLog.close` drains everything (to the DB, or else to the spill file).
So a record is always in exactly one of: the queue, the spill file, the ``predictions`` table, the
dead-letter file, or, when the disk refuses the spill too, the ``dropped`` count.

Nothing stops the writer. A row the database refuses for a reason of its own (a NaN that got this
far, a NUL byte, a value too long) is found by retrying its batch row by row and goes to the
:class:`DeadLetterFile` with the reason; the rows beside it are stored. An unreachable database is
told apart from a bad row by the error's kind, so it never dead-letters good rows. Every exception in
the thread is caught and logged; :attr:`PredictionLog.health` says what state the log is in.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from evergreen.errors import StoreError, one_line
from evergreen.logs import get_logger
from evergreen.serving.spill import DeadLetterFile, SpillFile
from evergreen.store.engine import EncodedJSON, Store
from evergreen.store.tables import predictions

log = get_logger(__name__)
Counter = Callable[[int], None]
LogHealth = Literal["ok", "spilling", "degraded"]

# Text columns of ``predictions`` and their lengths: checked before the insert so SQLite (which
# does not enforce lengths) dead-letters the same rows PostgreSQL refuses.
_TEXT_COLUMNS = {"id": 36, "project": 100, "model_version": 20, "role": 20, "shadow_of": 36}


def _noop(_n: int) -> None:
    return None


def insert_predictions(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, ignoring ids already stored (a replay after a write whose commit was not seen).
    JSON columns may be plain values or :class:`EncodedJSON` text (see :func:`prepare_row`)."""
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


_JSON_COLUMNS = ("record", "prediction", "probabilities")


def prepare_row(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the row ready to insert, None) or (None, why it can never be stored). Pure.

    JSON columns are encoded here, strictly (NaN/Infinity refused), and handed to the database as
    text: the check costs no second encoding. The database has the last word; this catches what one
    backend would take and the other refuse (SQLite enforces neither lengths nor JSON).
    """
    if not isinstance(row.get("record"), dict):
        return None, "record is not a JSON object"
    for name, size in _TEXT_COLUMNS.items():
        value = row.get(name)
        if value is None and name == "shadow_of":
            continue
        if not isinstance(value, str) or not value:
            return None, f"{name} must be a non-empty string"
        if len(value) > size:
            return None, f"{name} longer than {size} characters"
        if "\x00" in value:
            return None, f"{name} contains a NUL character"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return None, f"{name} is not valid unicode"
    latency = row.get("latency_ms")
    if latency is not None and (
        isinstance(latency, bool) or not isinstance(latency, int | float) or not math.isfinite(latency)
    ):
        return None, "latency_ms is not a finite number"
    try:
        out = {**row, "created_at": _ts(row.get("created_at"))}
    except (TypeError, ValueError):
        return None, "created_at is not a timestamp"
    try:
        for name in _JSON_COLUMNS:
            if out.get(name) is not None:
                out[name] = EncodedJSON(json.dumps(out[name], allow_nan=False))
    except (TypeError, ValueError) as exc:
        return None, f"{name} not storable as JSON: {exc}"[:300]
    return out, None


def row_problem(row: dict[str, Any]) -> str | None:
    """Why ``row`` can never be stored, or None."""
    return prepare_row(row)[1]


def is_row_error(exc: BaseException) -> bool:
    """True when the database refused the rows themselves; False when it could not be reached."""
    if isinstance(exc, StoreError):  # OperationalError: connection lost, database locked, …
        return False
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        return True
    if isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError):
        return True  # a bind parameter could not be converted: the row's fault
    return isinstance(exc, ValueError | TypeError | UnicodeError)


class PredictionLog:
    def __init__(
        self,
        store: Store,
        spill: SpillFile,
        *,
        queue_size: int,
        batch_size: int,
        dead_letter: DeadLetterFile | None = None,
        retry_seconds: float = 1.0,
        linger_seconds: float = 0.1,
        on_written: Counter = _noop,
        on_spilled: Counter = _noop,
        on_dead: Counter = _noop,
        on_dropped: Counter = _noop,
    ) -> None:
        self.store = store
        self.spill = spill
        self.dead_letter = dead_letter or DeadLetterFile(spill.path.with_name("prediction_deadletter.jsonl"))
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.retry_seconds = retry_seconds
        self.linger_seconds = linger_seconds
        self._flush_now = False
        self._on_written = on_written
        self._on_spilled = on_spilled
        self._on_dead = on_dead
        self._on_dropped = on_dropped
        self._queue: deque[dict[str, Any]] = deque()
        self._cv = threading.Condition()
        self._inflight = 0
        self._unwritten: set[str] = set()  # ids not yet committed: queued, being written or spilled
        self._stop = False
        self._db_down = False
        self._degraded = False  # the last rows that could not be written could not be spilled either
        self._next_retry = 0.0
        try:
            self._spill_waiting = spill.has_data()  # left over by an earlier process: replay it
        except OSError:
            self._spill_waiting = False
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

    @property
    def health(self) -> LogHealth:
        """ok; spilling (database unreachable, rows kept on disk); degraded (rows are being lost)."""
        dead = self._thread.ident is not None and not self._thread.is_alive() and not self._stop
        if self._degraded or dead:
            return "degraded"
        if self._db_down or self._spill_waiting:
            return "spilling"
        return "ok"

    def submit(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue rows for writing; never blocks on the database and never raises."""
        with self._cv:
            self._unwritten.update(str(r.get("id")) for r in rows)
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
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cv.wait(min(left, 0.5))
        return not self._db_down and not self._spill_waiting

    def close(self, timeout: float = 30.0) -> None:
        """Graceful shutdown: write (or spill) everything queued, try a last replay, stop the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        with self._cv:  # the thread did not finish in time: nothing may be left only in memory
            rest = list(self._queue)
            self._queue.clear()
        if rest:
            self._spill(rest, reason="shutdown")

    # ---- where rows go when the database does not take them ----------------------------------------
    def _forget(self, rows: Sequence[dict[str, Any]]) -> None:
        with self._cv:
            self._unwritten.difference_update(str(r.get("id")) for r in rows)

    def _drop(self, rows: Sequence[dict[str, Any]], exc: BaseException, where: str) -> None:
        """Rows neither the database nor the disk took: counted, and the log reports degraded."""
        self._forget(rows)
        self._on_dropped(len(rows))
        if not self._degraded:
            log.error("prediction_log_rows_lost", rows=len(rows), where=where, error=one_line(exc)[:300])
        self._degraded = True

    def _dead(self, rows: Sequence[dict[str, Any]], reason: str) -> None:
        self._forget(rows)
        try:
            self.dead_letter.append(rows, reason)
        except Exception as exc:  # disk full: nothing more to do than count them
            self._drop(rows, exc, "dead_letter")
            return
        self._on_dead(len(rows))
        log.warning("prediction_log_dead_letter", rows=len(rows), reason=reason)

    def _spill(self, rows: Sequence[dict[str, Any]], *, reason: str) -> None:
        good = []
        for r in rows:
            problem = row_problem(r)
            if problem is None:
                good.append(r)
            else:
                self._dead([r], problem)
        if not good:
            return
        try:
            self.spill.append(good)
        except Exception as exc:
            self._drop(good, exc, "spill")
            return
        self._spill_waiting = True
        self._degraded = False
        self._on_spilled(len(good))
        log.warning("prediction_log_spilled", rows=len(good), reason=reason, path=str(self.spill.path))

    # ---- the writer thread -------------------------------------------------------------------------
    def _store(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``; a row-level refusal is retried row by row and the bad rows dead-lettered.
        Raises only when the database cannot be reached (the caller spills, or stops a replay)."""
        good: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (as given, as inserted)
        for r in rows:
            ready, problem = prepare_row(r)
            if ready is None:
                self._dead([r], problem or "unstorable")
            else:
                good.append((r, ready))
        if not good:
            return
        try:
            self._insert([ready for _, ready in good])
            return
        except Exception as exc:
            if not is_row_error(exc):
                raise
            log.warning("prediction_log_batch_refused", rows=len(good), error=one_line(exc)[:300])
        for r, ready in good:
            try:
                self._insert([ready])
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                self._dead([r], one_line(exc)[:300])

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        insert_predictions(self.store, rows)
        self._forget(rows)
        self._degraded = False
        self._on_written(len(rows))

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if self._db_down and time.monotonic() < self._next_retry:
            self._spill(batch, reason="database_down")
            return
        try:
            self._store(batch)
        except Exception as exc:
            self._mark_down(exc)
            # Rows stored before the failure are no longer unwritten: spilling them again is harmless
            # (replays ignore known ids), losing the others is not.
            self._spill([r for r in batch if self.unwritten(str(r.get("id")))], reason="database_down")
            return
        if self._db_down:
            log.info("prediction_log_database_back")
        self._db_down = False

    def _mark_down(self, exc: BaseException) -> None:
        if not self._db_down:
            log.error("prediction_log_database_unavailable", error=one_line(exc)[:300])
        self._db_down = True
        self._next_retry = time.monotonic() + self.retry_seconds

    def _replay(self) -> None:
        if time.monotonic() < self._next_retry:
            return
        try:
            n = self.spill.replay(self._store)
        except Exception as exc:
            self._mark_down(exc)
            return
        self._db_down = False
        self._spill_waiting = False
        if n:
            log.info("prediction_log_replayed", rows=n)

    def _next_batch(self) -> tuple[list[dict[str, Any]], bool]:
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
            return batch, self._stop and not self._queue

    def _run(self) -> None:
        while True:
            batch: list[dict[str, Any]] = []
            stopping = False
            try:
                batch, stopping = self._next_batch()
                if batch:
                    self._write(batch)
                    batch = []
                if self._spill_waiting:
                    self._replay()
                if stopping and self._spill_waiting:
                    self._next_retry = 0.0
                    self._replay()
            except Exception as exc:  # the writer must outlive anything: keep the rows, go on
                log.error("prediction_log_writer_error", error=one_line(exc)[:300], exc_info=True)
                if batch:
                    self._spill([r for r in batch if self.unwritten(str(r.get("id")))], reason="writer_error")
                self._next_retry = time.monotonic() + self.retry_seconds
            finally:
                with self._cv:
                    self._inflight = 0
                    self._cv.notify_all()
            if stopping:
                return
