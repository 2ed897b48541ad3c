"""Playwright on Debian's chromium (never `playwright install`); one browser, one served project per module.

The project has real history: v1 trained, v2 promoted, three weeks of logged predictions with drift
reports (the last drifted) and the alerts they raised, and v3 waiting for approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from evergreen import control
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project
    from tests.support.dashboard import seed_history
    from tests.support.project import churn_settings_with_batches

    p = open_project(churn_settings_with_batches(tmp_path_factory.mktemp("dashboard") / "churn"))
    run = RetrainRunner(p)
    assert run.run(RetrainRequest(reason="first")).status == "promoted"
    control.set_thresholds(
        p, {"promotion.min_improvement": -1.0, "promotion.significance": None}, actor="setup"
    )
    assert run.run(RetrainRequest(force=True, reason="second")).status == "promoted"
    seed_history(p)
    control.set_thresholds(p, {"promotion.require_approval": True}, actor="setup")
    assert run.run(RetrainRequest(force=True, reason="please review")).status == "pending_approval"
    yield p
    p.close()


@pytest.fixture(scope="module")
def server(project: Any) -> Iterator[Any]:
    from tests.support.dashboard import dashboard_app
    from tests.support.serving import live

    with live(dashboard_app(project)) as srv:
        yield srv
