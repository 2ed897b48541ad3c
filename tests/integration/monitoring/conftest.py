"""Fixtures for monitoring integration tests: trained projects on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.monitoring import train_project


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_trained_project(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """``trained_project`` on SQLite, or the same project with its metadata on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("trained_project")
        return
    project = train_project(tmp_path / "pg", database_url=request.getfixturevalue("postgres_url"))
    yield project
    project.store.engine.dispose()
