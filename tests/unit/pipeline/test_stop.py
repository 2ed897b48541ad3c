"""``pipeline.stop.StopFlag``: where a stop asked for by a signal is honoured."""

from __future__ import annotations

import pytest

from evergreen.errors import RunStoppedError
from evergreen.pipeline.stop import StopFlag


def test_no_stop_asked_lets_every_phase_run() -> None:
    flag = StopFlag()
    flag.check("the evaluate stage")
    with flag.fitting():
        assert flag.in_fitting
    assert not flag.in_fitting


def test_a_stop_asked_between_stages_ends_the_run_before_the_next() -> None:
    flag = StopFlag()
    flag.requested.set()
    with pytest.raises(RunStoppedError, match="before the evaluate stage"):
        flag.check("the evaluate stage")


def test_a_stop_asked_just_before_the_fitting_does_not_wait_for_the_fit() -> None:
    # The signal landed after the train stage began but before the fitting was marked: the handler
    # only set the flag. Entering the fitting must honour it rather than fit for minutes first.
    flag = StopFlag()
    flag.requested.set()
    fitted = []
    with pytest.raises(RunStoppedError, match="the candidates' fitting"), flag.fitting():
        fitted.append(True)
    assert fitted == [] and not flag.in_fitting
