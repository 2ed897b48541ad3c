"""Fixtures shared by every test layer: real SQLite and PostgreSQL metadata stores, projects."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from evergreen.project import Project
from evergreen.store import Store
from tests.support.postgres import PgInstance
from tests.support.project import churn_settings_with_batches

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("EVERGREEN_PII_SALT", "test-salt")

PG_ENV = "EVERGREEN_TEST_POSTGRES_URL"


def _postgres_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} must be set in CI (.ci/run starts PostgreSQL)")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    base = _postgres_url()
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"eg_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def own_postgres() -> Iterator[PgInstance]:
    """A throw-away PostgreSQL server of the test's own, for a test that stops and starts it (the
    shared server is never stopped); skipped where none can run, except in CI."""
    try:
        pg = PgInstance().init()
    except (FileNotFoundError, RuntimeError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot run a private PostgreSQL here: {exc}")
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/meta.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    from evergreen.store import open_store

    s = open_store(database_url, "testproj")
    yield s
    s.engine.dispose()


@pytest.fixture
def churn_project(tmp_path: Path) -> Iterator[Project]:
    """An opened churn project with two weekly batches in its landing dir (no model yet)."""
    from evergreen.project import open_project

    project = open_project(churn_settings_with_batches(tmp_path / "churn"))
    yield project
    project.store.engine.dispose()


@pytest.fixture
def trained_project(churn_project: Project) -> Project:
    """``churn_project`` after one retrain: version 1 is the champion."""
    from evergreen.pipeline import RetrainRequest, RetrainRunner

    outcome = RetrainRunner(churn_project).run(RetrainRequest(trigger="manual", reason="fixture"))
    assert outcome.status == "promoted", outcome.reason
    return churn_project
