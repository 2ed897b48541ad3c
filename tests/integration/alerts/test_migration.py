"""Migration 0005 on SQLite and PostgreSQL: the schema matches tables.py, and it goes down and up."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from evergreen.store.engine import MIGRATIONS
from evergreen.store.tables import alert_deliveries, alerts


def _columns(store, table: str) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns(table)}


def test_0005_matches_tables_and_downgrades(store) -> None:
    assert _columns(store, "alerts") == set(alerts.c.keys())
    assert _columns(store, "alert_deliveries") == set(alert_deliveries.c.keys())
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert "alert_deliveries" not in inspect(store.engine).get_table_names()
    assert "sent_level" not in _columns(store, "alerts")
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert _columns(store, "alerts") == set(alerts.c.keys())
