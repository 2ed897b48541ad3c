"""Migration 0006 on SQLite and PostgreSQL: drift_detected takes NULL; down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, inspect, select

from evergreen.store.engine import MIGRATIONS
from evergreen.store.tables import drift_reports


def _nullable(store) -> bool:
    (col,) = [c for c in inspect(store.engine).get_columns("drift_reports") if c["name"] == "drift_detected"]
    return bool(col["nullable"])


def _migrate(store, target: str, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def test_0006_null_verdict_and_downgrade(store) -> None:
    assert _nullable(store)
    with store.begin() as conn:
        conn.execute(
            insert(drift_reports).values(
                project=store.project, report_date=datetime(2026, 1, 1, tzinfo=UTC), current_rows=3
            )
        )
    with store.connect() as conn:
        assert conn.execute(select(drift_reports.c.drift_detected)).scalar_one() is None
    _migrate(store, "0005", down=True)
    assert not _nullable(store)
    with store.connect() as conn:  # the NULL verdict became "no drift" to fit the old schema
        assert conn.execute(select(drift_reports.c.drift_detected)).scalar_one() is False
    _migrate(store, "head")
    assert _nullable(store)
