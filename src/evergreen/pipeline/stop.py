"""A request to stop a running retrain (SIGTERM), honoured where stopping is safe.

The signal handler only sets :attr:`StopFlag.requested`; it never raises into the run. The run
checks the flag between stages and before it registers (:meth:`StopFlag.check`) and ends as
``abandoned``. The one phase cut short is the candidates' fitting: its wait watches the flag
(:mod:`evergreen.training.runners`) and kills the fit, for nothing outside this process has seen it
yet. Everything after, the alias move and its audit row above all, runs to its end once started.
"""

from __future__ import annotations

import threading

from evergreen.errors import RunStoppedError


class StopFlag:
    def __init__(self) -> None:
        self.requested = threading.Event()

    def check(self, before: str) -> None:
        if self.requested.is_set():
            raise RunStoppedError(f"the process was asked to stop: the run ends before {before}")
