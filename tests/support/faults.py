"""Faults injected into a real retrain: one call of a stage's step fails, the next ones work."""

from __future__ import annotations

from typing import Any

import pytest


def fail_champion_move_once(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> list[int]:
    """The promote stage's move of the champion raises ``exc`` once, then moves it as usual.

    Returns the list of calls (one entry per call), for the test to count the attempts.
    """
    from evergreen.pipeline import stages

    real, calls = stages.move_champion, []

    def once(*a: Any, **k: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(stages, "move_champion", once)
    return calls
