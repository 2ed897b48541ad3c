"""Hear that the ``champion`` alias moved, or that a version was registered (PostgreSQL LISTEN on
``evergreen_champion``).

The sending side is :mod:`evergreen.store.notify` (the code that moves the champion and the retrain
that registers sit below serving); polling the registry stays the guarantee, a notification only
makes the swap immediate, and a registration lets a replica load the candidate before its promotion.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from sqlalchemy.engine import URL

from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.ratelimit import backoff_delay
from evergreen.store.engine import Store
from evergreen.store.notify import CHANNEL, is_postgres

__all__ = ["CHANNEL", "ChampionListener", "is_postgres", "libpq_dsn"]

log = get_logger(__name__)


def libpq_dsn(url: URL) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a plain libpq connection string for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChampionListener:
    """A thread holding ``LISTEN evergreen_champion``; for this project's messages, calls ``on_change``
    (the champion moved) or ``on_registered`` (a version was registered).

    The connection is re-opened after a failure (the database restarting must not end the listening).
    ``poll_seconds`` only bounds how long :meth:`stop` waits: a notification is handed over as soon as
    it arrives on the socket. ``on_listening`` runs each time the LISTEN is (re)established, in this
    thread: what was announced while no one listened can be caught up on there.
    """

    def __init__(
        self,
        store: Store,
        on_change: Callable[[str | None], None],
        *,
        on_registered: Callable[[str], None] | None = None,
        on_listening: Callable[[], None] | None = None,
        retry_seconds: float = 2.0,
        retry_max_seconds: float = 30.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self._dsn = libpq_dsn(store.engine.url)
        self._project = store.project
        self._on_change = on_change
        self._on_registered = on_registered
        self._on_listening = on_listening
        # Reconnect after retry_seconds, doubled at each failure up to retry_max_seconds: an hour's
        # outage is some hundred lines, not one every 2 s; a move missed meanwhile is caught up at
        # the reconnect (on_listening) and by the registry poll.
        self._retry, self._retry_max = retry_seconds, retry_max_seconds
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evergreen-listen", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self.listening.set()
                    self._caught_up()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=self._poll):
                            self._handle(note.payload)
            except Exception as exc:
                self.listening.clear()
                failures += 1
                delay = backoff_delay(failures, self._retry, self._retry_max)
                log.warning("champion_listen_failed", error=one_line(exc), retry_in_seconds=delay)
                self._stop.wait(delay)

    def _caught_up(self) -> None:
        if self._on_listening is None:
            return
        try:
            self._on_listening()
        except Exception as exc:  # a hint missed is a load at the promotion, not a reason to stop listening
            log.warning("listen_catch_up_failed", error=one_line(exc))

    def _handle(self, payload: str) -> None:
        try:
            msg = json.loads(payload)
        except ValueError:
            return
        if not isinstance(msg, dict) or msg.get("project") != self._project:
            return
        version = msg.get("version")
        if msg.get("event", "champion") == "registered":  # a sender older than "event" meant champion
            if self._on_registered is not None and version is not None:
                self._on_registered(str(version))
            return
        self._on_change(None if version is None else str(version))
