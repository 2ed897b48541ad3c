"""A real project on disk for the ingest/dataset tests: settings, a SQLite store, file writers.

A plain module (not conftest.py) so test modules can import its helpers by a unique name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from evergreen.config import Settings
from evergreen.store.engine import Store
from evergreen.store.tables import batches, contracts

ENV = {"EVERGREEN_PII_SALT": "test-salt"}


@dataclass
class Project:
    root: Path
    settings: Settings
    store: Store

    def write_csv(self, name: str, df: pd.DataFrame, where: Path | None = None) -> Path:
        path = (where or self.root / "incoming") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        return path

    def write_bytes(self, name: str, data: bytes, where: Path | None = None) -> Path:
        path = (where or self.root / "incoming") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def state(self) -> dict[str, Any]:
        """What an ingest may change: accepted rows, contracts, snapshot files."""
        with self.store.connect() as conn:
            accepted = conn.execute(
                select(func.count()).select_from(batches).where(batches.c.status == "accepted")
            ).scalar_one()
            n_contracts = conn.execute(select(func.count()).select_from(contracts)).scalar_one()
        data_dir = self.settings.storage.data_dir
        files = sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []
        return {"accepted": accepted, "contracts": n_contracts, "snapshots": files}

    def batch_rows(self) -> list[Any]:
        with self.store.connect() as conn:
            return list(conn.execute(select(batches).order_by(batches.c.id)).all())


def churn(n: int = 10, start: int = 0, **overrides: Any) -> pd.DataFrame:
    """A small valid labelled batch: id, tenure (numeric), plan (categorical), churned (0/1)."""
    ids = list(range(start, start + n))
    df = pd.DataFrame(
        {
            "customer_id": ids,
            "tenure": [float(i % 7) + 0.5 for i in ids],
            "plan": ["basic", "pro"] * (n // 2) + ["basic"] * (n % 2),
            "churned": [i % 2 for i in ids],
        }
    )
    return df.assign(**overrides)
