"""Delivery off the caller's path: one worker thread per channel, retries with exponential backoff.

``submit`` only enqueues, so a retrain, a request or a monitoring job never waits for a channel;
each attempt (sent, failed, gave_up) is one ``alert_deliveries`` row. A channel that is down or
hangs only delays its own deliveries: each channel has its own queue and thread (with one thread
for all, a Slack that never answered held every e-mail behind it for its whole timeout).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from evergreen.alerts.channels import Channel, DeliveryError
from evergreen.alerts.messages import AlertMessage
from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.ratelimit import backoff_delay

log = get_logger("evergreen.alerts")

# (message, channel, attempt, status, error)
RecordFn = Callable[[AlertMessage, Channel, int, str, str | None], None]


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Wait before attempt ``attempt + 1`` (attempts count from 1)."""
        return backoff_delay(attempt, self.backoff_seconds, self.backoff_max_seconds)


class Dispatcher:
    def __init__(self, record: RecordFn, policy: RetryPolicy) -> None:
        self._record = record
        self.policy = policy
        # One queue (a heap by due time) and one worker thread per channel name.
        self._heaps: dict[str, list[tuple[float, int, AlertMessage, Channel, int]]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False

    def submit(self, msg: AlertMessage, channel: Channel) -> None:
        with self._cond:
            if self._closed:
                log.warning("alert_dispatcher_closed", alert_id=msg.alert_id, channel=channel.name)
                return
            lane = channel.name
            heapq.heappush(
                self._heaps.setdefault(lane, []), (time.monotonic(), next(self._seq), msg, channel, 1)
            )
            thread = self._threads.get(lane)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(
                    target=self._run, args=(lane,), name=f"evergreen-alerts-{lane}", daemon=True
                )
                self._threads[lane] = thread
                thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every delivery is sent or given up; ``False`` if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queued() or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None = 10.0) -> bool:
        done = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        return done

    @property
    def pending(self) -> int:
        with self._cond:
            return self._queued() + self._busy

    def _queued(self) -> int:
        return sum(len(heap) for heap in self._heaps.values())

    def _next(self, lane: str) -> tuple[AlertMessage, Channel, int] | None:
        with self._cond:
            heap = self._heaps[lane]
            while True:
                if self._closed and not heap:
                    return None
                if heap:
                    wait = heap[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, msg, channel, attempt = heapq.heappop(heap)
                        self._busy += 1
                        return msg, channel, attempt
                    self._cond.wait(wait)
                else:
                    self._cond.wait()

    def _run(self, lane: str) -> None:
        while (item := self._next(lane)) is not None:
            msg, channel, attempt = item
            try:
                self._attempt(msg, channel, attempt)
            except Exception:  # the worker must outlive any one delivery (a send never raises past it)
                with suppress(Exception):
                    log.exception("alert_dispatch_error", alert_id=msg.alert_id, channel=channel.name)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, msg: AlertMessage, channel: Channel, attempt: int) -> None:
        try:
            channel.send(msg)
        except DeliveryError as exc:
            error = str(exc)
            last = attempt > self.policy.retries
            status = "gave_up" if last else "failed"
            self._safe_record(msg, channel, attempt, status, error)
            if not last:
                due = time.monotonic() + self.policy.delay(attempt)
                with self._cond:
                    heap = self._heaps.setdefault(channel.name, [])
                    heapq.heappush(heap, (due, next(self._seq), msg, channel, attempt + 1))
                    self._cond.notify_all()
            with suppress(Exception):  # a broken log stream must not lose the retry scheduled above
                log.warning(
                    "alert_delivery_failed",
                    alert_id=msg.alert_id,
                    channel=channel.name,
                    attempt=attempt,
                    error=error,
                    gave_up=last,
                )
            return
        self._safe_record(msg, channel, attempt, "sent", None)

    def _safe_record(
        self, msg: AlertMessage, channel: Channel, attempt: int, status: str, error: str | None
    ) -> None:
        try:
            self._record(msg, channel, attempt, status, error)
        except Exception as exc:  # the database may be what is down; the delivery itself happened
            with suppress(Exception):
                log.error(
                    "alert_delivery_not_recorded",
                    alert_id=msg.alert_id,
                    channel=channel.name,
                    status=status,
                    error=one_line(exc),
                )
