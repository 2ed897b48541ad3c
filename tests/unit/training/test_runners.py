"""The forked fit of the loky backend, as the scheduler's process runs it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from evergreen.training.runners import run_isolated
from tests.support.serving import wait_until
from tests.support.training import MarkedSleeper


@pytest.fixture
def flag_only_sigterm() -> Iterator[threading.Event]:
    """The handler ``evergreen scheduler`` installs: a SIGTERM only sets a flag."""
    flag = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        flag.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_forked_fit_ends_on_sigterm_instead_of_inheriting_the_flag_only_handler(
    tmp_path: Path, flag_only_sigterm: threading.Event
) -> None:
    # A fork keeps the parent's Python handlers: the child's copy of the flag is read by nobody, so
    # a SIGTERM sent to the fit (systemd's control group, an operator, a parent killed by the OOM
    # killer leaving it behind) was ignored and the fit ran on to its end.
    marker = tmp_path / "fitting"
    X = pd.DataFrame({"x": np.arange(20.0)})
    y = np.array([0, 1] * 10)
    fitting = Pipeline([("m", MarkedSleeper(str(marker), seconds=20.0))])
    result: list[object] = []
    waiter = threading.Thread(target=lambda: result.append(run_isolated(fitting, X, y, None, 600.0)))
    waiter.start()
    try:
        wait_until(marker.exists, "the fit to start in its child")
        [child] = multiprocessing.active_children()
        os.kill(child.pid or 0, signal.SIGTERM)
    finally:
        waiter.join()
    [outcome] = result
    assert getattr(outcome, "status", None) == "failed"
    assert "exit code -15" in str(getattr(outcome, "error", ""))
    assert not flag_only_sigterm.is_set()  # the parent was not the one signalled
