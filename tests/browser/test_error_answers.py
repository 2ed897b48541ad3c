"""What a person sees when a boosted form is answered with an error (4xx): the page saying why.

htmx swaps only 2xx answers by default: a wrong token on the log-in form, or a refused action, was
answered with a page naming the problem that the browser never showed (the click did nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.dashboard import OPERATOR_TOKEN, browser_login


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An untrained churn project with one open alert: enough for log-in and alert actions."""
    from evergreen.alerts import repository as repo
    from evergreen.alerts.rules import AlertCandidate
    from evergreen.project import open_project
    from evergreen.store.engine import utcnow
    from tests.support.project import make_project_settings

    root: Path = tmp_path_factory.mktemp("errors") / "churn"
    p = open_project(make_project_settings(root))
    repo.insert_alert(p.store, AlertCandidate("drift:7d", "drift", "alert", "data drift 0.4"), utcnow())
    yield p
    p.close()


@pytest.fixture(scope="module")
def server(project: Any) -> Iterator[Any]:
    from tests.support.dashboard import dashboard_app
    from tests.support.serving import live

    with live(dashboard_app(project), ready=False) as srv:  # no model to wait for
        yield srv


def test_a_wrong_token_shows_why_the_log_in_failed(browser: Any, server: Any) -> None:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("unknown token")).to_be_visible()
    assert page.url == f"{server.url}/login"  # the refusal is shown where the form was
    context.close()


def test_a_refused_action_shows_the_refusal(browser: Any, server: Any) -> None:
    page = browser_login(browser, server.url, OPERATOR_TOKEN)
    page.goto("/alerts")
    # The session ends in another tab: the form's CSRF token is no longer this session's.
    page.context.clear_cookies()
    browser_login_again = page.context.new_page()
    browser_login_again.goto("/login")
    browser_login_again.get_by_label("API token").fill(OPERATOR_TOKEN)
    browser_login_again.get_by_role("button", name="Log in").click()
    page.get_by_label("Comment (required)").fill("looking")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("CSRF token is missing or not this session's")).to_be_visible()
    # Not the action's address: a reload would GET /alerts/<id>/acknowledge (405).
    assert page.url == f"{server.url}/alerts"
    page.context.close()
