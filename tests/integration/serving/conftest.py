"""Serving fixtures: a served churn project (v1 champion) with serving options of the test's choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.serving import settings_with


@pytest.fixture
def make_app(trained_project: Any) -> Callable[..., Any]:
    from evergreen.serving.app import create_app

    def make(**serving: Any) -> Any:
        settings = settings_with(trained_project, **{"reload_interval_seconds": 0.2, **serving})
        return create_app(settings, trained_project)

    return make
