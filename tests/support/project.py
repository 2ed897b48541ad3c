"""Settings of the churn example project for tests, with per-test section overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evergreen.config import Settings


def make_project_settings(
    root: Path, *, database_url: str | None = None, task: str | None = None, **sections: Any
) -> Settings:
    """Settings of the churn example project in ``root`` (fast candidates), with section overrides."""
    import yaml

    from evergreen.config import settings_from_dict
    from evergreen.examples import churn

    raw = yaml.safe_load(churn.CONFIG.format(project="churn", window_days=10000))
    raw["training"]["candidates"] = ["logistic_regression", "hist_gradient_boosting"]
    # The example's weekly retrain ("0 2 * * 1") is on the wall clock: a scheduler test that runs, or
    # moves its clock, across a Monday 02:00 UTC would see a "schedule" run it never asked for. A test
    # of the schedule sets one (``triggers={"schedule": ...}`` overrides this).
    raw["triggers"]["schedule"] = None
    if database_url:
        raw["storage"] = {"database_url": database_url}
    if task:
        raw["task"] = task
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return settings_from_dict(raw, root, env=dict(os.environ))


def churn_settings_with_batches(
    root: Path, *, rows: int = 1000, database_url: str | None = None, **sections: Any
) -> Settings:
    """:func:`make_project_settings` with two weekly batches of ``rows`` of the churn example in the
    landing dir."""
    from evergreen.examples import churn

    settings = make_project_settings(root, database_url=database_url, **sections)
    settings.data.landing.mkdir(parents=True)
    for i, frame in enumerate(churn.make_stream(batches=2, rows=rows)):
        frame.to_csv(settings.data.landing / f"week{i:02d}.csv", index=False)
    return settings
