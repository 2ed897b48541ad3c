"""A project whose data has integer, float, boolean and string feature columns, for MLflow interop tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["visits", "spend", "member", "plan"]


def mixed_frame(n: int, seed: int = 3) -> pd.DataFrame:
    """``visits`` int, ``spend`` float, ``member`` bool, ``plan`` string; target ``left`` (yes/no)."""
    rng = np.random.default_rng(seed)
    visits = rng.integers(0, 20, n)
    spend = rng.gamma(2.0, 30.0, n).round(2)
    member = rng.random(n) < 0.4
    plan = rng.choice(["basic", "plus", "pro"], n)
    score = 0.15 * visits - 0.02 * spend + 1.2 * member + (plan == "pro") * 0.8
    return pd.DataFrame(
        {
            "customer_id": [f"K{i:05d}" for i in range(n)],
            "event_time": [datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=i) for i in range(n)],
            "visits": visits,
            "spend": spend,
            "member": member,
            "plan": plan,
            "left": np.where(score + rng.normal(0, 0.5, n) > 0.5, "yes", "no"),
        }
    )


def trained_mixed_project(root: Path, rows: int = 600) -> Any:
    """An opened project ``interop`` on :func:`mixed_frame` after one retrain (version 1 is champion)."""
    from evergreen.config import settings_from_dict
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project

    raw = {
        "project": "interop",
        "task": "binary",
        "data": {"target": "left", "id_column": "customer_id", "timestamp_column": "event_time"},
        "training": {"candidates": ["logistic_regression"]},
        "promotion": {"min_metrics": {}, "significance": None},
    }
    settings = settings_from_dict(raw, root, env={"EVERGREEN_PII_SALT": "s"})
    settings.data.landing.mkdir(parents=True)
    mixed_frame(rows).to_csv(settings.data.landing / "batch.csv", index=False)
    project = open_project(settings)
    out = RetrainRunner(project).run(RetrainRequest(trigger="manual"))
    assert out.status == "promoted", out.reason
    return project
