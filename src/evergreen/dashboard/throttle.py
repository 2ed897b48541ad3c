"""Failed log-ins held back: a few per client a minute, and a ceiling over all clients.

In memory, per process (:class:`~evergreen.ratelimit.SlidingLog`): each worker of a multi-process
server counts its own, and a restart forgets. That is enough to turn guessing a token through the
log-in form from thousands of tries a second into a handful a minute. DESIGN.md's configuration has
no place for it (``auth.rate_limit_per_minute`` limits a *token's* requests), so the limits are
constants. The ceiling over all clients stops guessing from many addresses, at the price of holding
everyone's log-in back for a minute while it is reached; a person already logged in is not affected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from evergreen.ratelimit import SlidingLog

FAILURES_PER_CLIENT = 5  # failed log-ins from one address in any minute
FAILURES_OVERALL = 100  # failed log-ins from every address together in any minute
WINDOW_SECONDS = 60.0
_ALL = "*"


class LoginThrottle:
    def __init__(
        self,
        per_client: int = FAILURES_PER_CLIENT,
        overall: int = FAILURES_OVERALL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self._clients = SlidingLog(per_client, WINDOW_SECONDS, max_keys=max_clients)
        self._overall = SlidingLog(overall, WINDOW_SECONDS, max_keys=1)
        self._clock = clock

    def blocked_for(self, client: str) -> int | None:
        """Whole seconds (at least 1) before ``client`` may try to log in again; None if it may now."""
        now = self._clock()
        waits = [w for w in (self._clients.wait(client, now), self._overall.wait(_ALL, now)) if w is not None]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, client: str) -> None:
        now = self._clock()
        self._clients.add(client, now)
        self._overall.add(_ALL, now)

    def clients_remembered(self) -> int:
        return self._clients.keys()
