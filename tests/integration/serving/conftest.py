"""Serving fixtures: a served churn project (v1 champion) with serving options of the test's choice."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # serving_support

from serving_support import settings_with


@pytest.fixture
def make_app(trained_project: Any) -> Callable[..., Any]:
    from evergreen.serving.app import create_app

    def make(**serving: Any) -> Any:
        settings = settings_with(trained_project, **{"reload_interval_seconds": 0.2, **serving})
        return create_app(settings, trained_project)

    return make
