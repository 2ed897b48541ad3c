"""The demo's first model: a rejection blames --rows, any other failure to make one does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evergreen.demo.replay import Replay
from evergreen.errors import BadInputError, EvergreenError
from evergreen.pipeline import RetrainOutcome


@pytest.mark.parametrize(
    ("status", "error", "starts"),
    [
        ("rejected", BadInputError, "--rows 300: too few customers a week for a first model"),
        ("abandoned", EvergreenError, "the demo's first model was not made: abandoned"),
    ],
)
def test_a_first_model_that_is_not_promoted_stops_the_demo_with_its_cause(
    churn_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str, error: type, starts: str
) -> None:
    lines: list[str] = []
    replay = Replay(churn_project, tmp_path, lines.append)
    outcome = RetrainOutcome(run_id="r1", status=status, reason="why")
    monkeypatch.setattr(Replay, "retrain", lambda self, *a, **k: outcome)
    with pytest.raises(error) as exc:
        replay.history(300)
    assert exc.value.message.startswith(starts), exc.value.message
    assert type(exc.value) is error  # a failure is not blamed on --rows (exit 1, not 2)
