"""A request to stop a running retrain (SIGTERM), honoured where stopping is safe.

The signal handler only sets :attr:`StopFlag.requested`; the run checks it between stages and
before it registers (:meth:`StopFlag.check`) and ends as ``abandoned``. The one phase a handler may
cut short at once is the candidates' fitting (:meth:`StopFlag.fitting`): nothing outside this
process has seen it yet. Everything after, the alias move and its audit row above all, runs to its
end once started.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from evergreen.errors import RunStoppedError


class StopFlag:
    def __init__(self) -> None:
        self.requested = threading.Event()
        self._fitting = threading.Event()

    @contextmanager
    def fitting(self) -> Iterator[None]:
        """Mark the fitting phase: the only time a signal handler may interrupt the run.

        The mark is set before the flag is read: a stop asked for just before (when the handler saw
        no fitting yet and only set the flag) ends the run here instead of waiting for the whole fit.
        """
        self._fitting.set()
        try:
            self.check("the candidates' fitting")
            yield
        finally:
            self._fitting.clear()

    @property
    def in_fitting(self) -> bool:
        return self._fitting.is_set()

    def check(self, before: str) -> None:
        if self.requested.is_set():
            raise RunStoppedError(f"the process was asked to stop: the run ends before {before}")
