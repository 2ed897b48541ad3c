"""Dashboard test helpers: the serving app with known tokens, logging in, CSRF tokens from a page."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from evergreen.serving.auth import TokenTable
from tests.support.control import TOKENS

VIEWER_TOKEN, OPERATOR_TOKEN, ADMIN_TOKEN = "view-tok-1", "op-tok-2", "admin-tok-3"
# Every page in the navigation bar, in its order.
PAGES = (
    "/",
    "/runs",
    "/models",
    "/monitoring",
    "/alerts",
    "/approvals",
    "/history",
    "/settings",
    "/predict/form",
)
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def dashboard_app(project: Any, tokens: str = TOKENS, *, insecure_local: bool = False) -> FastAPI:
    """``create_app`` on the project, its token table set as if read from $EVERGREEN_TOKENS."""
    from evergreen.serving.app import create_app

    app = create_app(project.settings, project, insecure_local=insecure_local)
    app.state.control_tokens = TokenTable.parse(tokens, "EVERGREEN_TOKENS")
    return app


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: Any, token: str) -> str:
    """Log ``client`` in with ``token``; the CSRF token of the new session."""
    page = client.get("/login")
    r = client.post("/login", data={"token": token, "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


def seed_history(project: Any, weeks: int = 3) -> None:
    """Real history on a trained project: a week of logged, half-labelled predictions per drift report
    (the last week drifted), then the alerts those reports raise."""
    from datetime import timedelta

    from evergreen.alerts import raise_alerts
    from evergreen.examples import churn
    from evergreen.monitoring.job import run_monitoring
    from evergreen.store.engine import utcnow
    from tests.support.monitoring import log_predictions

    now = utcnow()
    for week in range(weeks - 1, -1, -1):
        end = now - timedelta(days=7 * week)
        frame = churn.make_batch(20 + week, 600, drifted=week == 0)
        log_predictions(project, frame, end=end, labelled=0.5, seed=week)
        run_monitoring(project, "7d", now=end)
    raise_alerts(project)


def browser_login(browser: Any, url: str, token: str) -> Any:
    """A new browser context logged in through the login form; its page on the Overview."""
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    return page
