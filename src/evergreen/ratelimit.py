"""How often to try: a sliding log (at most ``limit`` events per key in any ``window`` seconds, in this
process's memory) and the exponential back-off of retries (:func:`backoff_delay`).

The one home of the rule behind the control API's per-token limit (``auth.rate_limit_per_minute``,
:class:`evergreen.serving.auth.RateLimiter`) and the dashboard's limit on failed log-ins
(:class:`evergreen.dashboard.throttle.LoginThrottle`). Pure apart from its lock: every method takes
the instant, so tests give exact ones. A 40-line log rather than a rate-limit library: the rule is
one sentence, and it is tested with exact instants.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1-based): base, 2·base, 4·base, … capped at ``cap``.

    The one rule for every retry loop: a retrain that failed, an alert delivery, a LISTEN connection.
    """
    return float(min(cap, base * 2 ** max(attempt - 1, 0)))


@dataclass
class SlidingLog:
    """Memory: at most ``limit`` instants per key and at most ``max_keys`` keys (when full, keys with
    nothing left in the window are forgotten first, then the oldest-added)."""

    limit: int
    window: float = 60.0
    max_keys: int = 10_000
    _seen: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _events(self, key: str, now: float) -> deque[float]:
        # The caller holds the lock.
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= self.max_keys:
                self._forget(now)
            seen = self._seen[key] = deque()
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        return seen

    def _forget(self, now: float) -> None:
        # Down to nine tenths, not to one free slot: each pass scans every key, so a full table of
        # live keys (failed log-ins sprayed from many addresses) pays it once per tenth, not per key.
        for key in [k for k, d in self._seen.items() if not d or now - d[-1] >= self.window]:
            del self._seen[key]
        keep = self.max_keys - max(1, self.max_keys // 10)
        while len(self._seen) > keep:
            del self._seen[next(iter(self._seen))]

    def _wait(self, seen: deque[float], now: float) -> float | None:
        return self.window - (now - seen[0]) if len(seen) >= self.limit else None

    def wait(self, key: str, now: float) -> float | None:
        """Seconds until one more event of ``key`` would be allowed at ``now``; None if it is now.
        Counts nothing, and keeps nothing for a key it has not counted (every successful log-in
        asks: it must not fill the table)."""
        with self._lock:
            if key not in self._seen:
                return None
            return self._wait(self._events(key, now), now)

    def add(self, key: str, now: float) -> None:
        """Count an event of ``key`` at ``now``, allowed or not."""
        with self._lock:
            self._events(key, now).append(now)

    def retry_after(self, key: str, now: float) -> float | None:
        """None if the event at ``now`` is allowed (and counted); else seconds until it would be."""
        with self._lock:
            seen = self._events(key, now)
            wait = self._wait(seen, now)
            if wait is None:
                seen.append(now)
            return wait

    def keys(self) -> int:
        with self._lock:
            return len(self._seen)
