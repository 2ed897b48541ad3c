"""Serving fixtures: a served churn project (v1 champion) with serving options of the test's choice."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # serving_support

RECORD = {"tenure": 13.0, "monthly_fee": 44.07, "support_calls": 0.0, "plan": "standard", "region": "east",
          "last_ticket": "thanks for the quick help"}


def settings_with(project: Any, **serving: Any) -> Any:
    """The project's settings with serving (and optionally storage) keys replaced."""
    s = project.settings
    storage = serving.pop("storage", {})
    return s.model_copy(update={"serving": s.serving.model_copy(update=serving),
                                "storage": s.storage.model_copy(update=storage)})


@pytest.fixture
def make_app(trained_project: Any) -> Callable[..., Any]:
    from evergreen.serving.app import create_app

    def make(**serving: Any) -> Any:
        settings = settings_with(trained_project, **{"reload_interval_seconds": 0.2, **serving})
        return create_app(settings, trained_project)

    return make
