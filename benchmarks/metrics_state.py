"""What a `/metrics` scrape pays when its cache expired: one ``read_loop_state`` on a busy project.

    .venv/bin/python benchmarks/metrics_state.py [--database-url URL] [--predictions 200000]

Fills a throw-away metadata database (SQLite in a temporary directory by default; a PostgreSQL URL
is used as given, so point it at an empty database) with a project's worth of history: N predictions,
1000 runs and decisions, 2000 drift reports of 30 columns, 3000 audit rows and 500 alerts; then times
30 calls of :func:`evergreen.observability.state.read_loop_state` (median, min, max).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def fill(store: Any, predictions_n: int) -> None:
    from sqlalchemy import insert, text

    from evergreen.store.engine import utcnow
    from evergreen.store.tables import (
        alert_actions,
        alerts,
        decisions,
        drift_reports,
        pipeline_runs,
        predictions,
    )

    now, p = utcnow(), store.project
    columns = {
        f"c{j}": {"method": "ks", "score": 0.2, "threshold": 0.05, "drifted": False} for j in range(30)
    }
    details = {
        "data_drift": {"share": 0.2, "drift_share": 0.3, "columns": columns},
        "performance": {"metric": "f1_macro", "estimated": 0.8, "baseline": 0.85, "threshold": 0.05},
    }
    with store.begin() as c:
        for start in range(0, predictions_n, 10_000):
            c.execute(
                insert(predictions),
                [
                    {
                        "id": uuid.uuid4().hex,
                        "project": p,
                        "created_at": now - timedelta(seconds=i),
                        "model_version": "3",
                        "role": "champion",
                        "record": {"a": 1},
                    }
                    for i in range(start, min(start + 10_000, predictions_n))
                ],
            )
        statuses = ("promoted", "rejected", "failed", "skipped")
        c.execute(
            insert(pipeline_runs),
            [
                {
                    "id": uuid.uuid4().hex[:16],
                    "project": p,
                    "trigger": "drift",
                    "status": statuses[i % 4],
                    "started_at": now - timedelta(hours=i),
                    "finished_at": now - timedelta(hours=i) + timedelta(minutes=3),
                }
                for i in range(1000)
            ],
        )
        c.execute(
            insert(decisions),
            [
                {
                    "project": p,
                    "outcome": ("promoted", "rejected")[i % 2],
                    "justification": "x",
                    "actor": "system",
                    "created_at": now - timedelta(hours=i),
                }
                for i in range(1000)
            ],
        )
        c.execute(
            insert(drift_reports),
            [
                {
                    "project": p,
                    "report_date": now - timedelta(hours=6 * i),
                    "window": ("7d", "30d")[i % 2],
                    "details": details,
                    "drift_detected": False,
                }
                for i in range(2000)
            ],
        )
        c.execute(
            insert(alert_actions),
            [
                {
                    "project": p,
                    "actor": "system",
                    "action": ("promote", "reject", "alert_opened")[i % 3],
                    "before": {"champion": "2"},
                    "after": {"champion": "3"},
                    "at": now - timedelta(hours=i),
                }
                for i in range(3000)
            ],
        )
        c.execute(
            insert(alerts),
            [
                {
                    "project": p,
                    "fingerprint": f"f{i}",
                    "kind": "drift",
                    "level": ("warning", "alert", "critical")[i % 3],
                    "status": ("open", "resolved")[i % 2],
                    "title": "t",
                    "opened_at": now,
                    "updated_at": now,
                }
                for i in range(500)
            ],
        )
    if store.engine.dialect.name == "postgresql":
        with store.begin() as c:
            c.execute(text("ANALYZE"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    ap.add_argument("--predictions", type=int, default=200_000)
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args()

    from evergreen.observability.state import read_loop_state
    from evergreen.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.database_url or f"sqlite:///{tmp}/bench.db", "bench")
        fill(store, args.predictions)
        times = []
        for _ in range(args.calls):
            t = time.perf_counter()
            read_loop_state(
                store, ("7d", "30d"), retrain_lock="retrain:bench", scheduler_lock="scheduler:bench"
            )
            times.append(time.perf_counter() - t)
        store.engine.dispose()
    print(
        f"{store.engine.dialect.name}: {args.predictions} predictions, 1000 runs, 2000 reports x 30 columns, "
        f"3000 audit rows: read_loop_state median {statistics.median(times) * 1000:.1f} ms "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={args.calls})"
    )


if __name__ == "__main__":
    main()
