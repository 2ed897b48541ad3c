"""Fixtures for the data integration tests (helpers live in tests/support/data.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evergreen.config import settings_from_dict
from evergreen.store.engine import open_store
from tests.support.data import ENV, Project


@pytest.fixture
def make_project(tmp_path: Path, database_url: str) -> Callable[..., Project]:
    """``make_project(task=..., **data_keys)`` → Project on SQLite, and again on PostgreSQL."""

    def build(task: str = "binary", **data: Any) -> Project:
        raw = {
            "project": "p",
            "task": task,
            "data": {"target": "churned", "id_column": "customer_id", **data},
        }
        settings = settings_from_dict(raw, root=tmp_path, env=dict(ENV))
        store = open_store(database_url, "p")
        return Project(root=tmp_path, settings=settings, store=store)

    return build


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project()
