"""`evergreen demo`, the main job, exactly as `make demo` runs it (but in a known directory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.cli import cli_env


def test_demo_shows_promotions_a_rejection_and_a_quarantine(tmp_path: Path):
    res = subprocess.run(
        [sys.executable, "-m", "evergreen", "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    engine = create_engine(f"sqlite:///{tmp_path}/demo/.evergreen/evergreen.db")
    with engine.connect() as c:
        statuses = [r[0] for r in c.execute(text("select status from pipeline_runs order by started_at"))]
        quarantined = c.execute(text("select reason from batches where status='quarantined'")).scalars().all()
    assert len(statuses) == 10
    assert statuses[0] == "promoted"
    assert "promoted" in statuses[1:] and "rejected" in statuses
    assert quarantined == ["wrong_type"]
    out = res.stdout
    assert "week 10" in out and "quarantined: customers-week03-broken-export.csv" in out
    assert "champion: churn@champion = v" in out and "mlflow ui --backend-store-uri" in out
