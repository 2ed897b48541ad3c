"""``pipeline.stop.StopFlag``: where a stop asked for by a signal is honoured between stages.

(The fitting's own wait watching the flag is tested with the training: ``tests/unit/training``.)
"""

from __future__ import annotations

import pytest

from evergreen.errors import RunStoppedError
from evergreen.pipeline.stop import StopFlag


def test_no_stop_asked_lets_every_phase_run() -> None:
    flag = StopFlag()
    flag.check("the evaluate stage")
    assert not flag.requested.is_set()


def test_a_stop_asked_between_stages_ends_the_run_before_the_next() -> None:
    flag = StopFlag()
    flag.requested.set()
    with pytest.raises(RunStoppedError, match="before the evaluate stage"):
        flag.check("the evaluate stage")
