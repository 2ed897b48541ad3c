"""Metadata database: engine, tables, migrations, queries."""

from evergreen.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
