"""What a person sees when a boosted form is answered with an error (4xx): the page saying why.

htmx swaps only 2xx answers by default: a wrong token on the log-in form, or a refused action, was
answered with a page naming the problem that the browser never showed (the click did nothing).
"""

from __future__ import annotations

import contextlib
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


@pytest.mark.parametrize("scripts", [True, False], ids=["htmx", "plain-form"])
def test_a_double_click_on_acknowledge_shows_the_alert_acknowledged_not_a_refusal(
    browser: Any, server: Any, project: Any, scripts: bool
) -> None:
    """A person clicks Acknowledge twice while the first answer is on its way. A plain form (as
    before htmx has loaded) sends the second too and shows its answer: the control layer's 409
    (already acknowledged), which the page showed as "cannot be acknowledged" although the first
    click had done it. With htmx the form's buttons are disabled while its request is in flight."""
    from playwright.sync_api import Error, Route

    from evergreen.alerts import repository as repo
    from evergreen.alerts.rules import AlertCandidate
    from evergreen.store.engine import utcnow

    alert_id = repo.insert_alert(
        project.store,
        AlertCandidate(f"drift:double-{scripts}", "drift", "warning", "data drift 0.3"),
        utcnow(),
    )
    context = browser.new_context(base_url=server.url, java_script_enabled=scripts)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("API token").fill(OPERATOR_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/")
    page.goto(f"/alerts?alert={alert_id}")
    page.get_by_label("Comment (required)").fill("on it")

    # The first POST reaches the server (the alert is acknowledged) but its answer is held back,
    # as on a slow network, until the second click; any later POST is answered at once.
    held: list[tuple[Route, Any]] = []
    posts: list[str] = []

    def slow_first(route: Route) -> None:
        posts.append(route.request.url)
        answer = route.fetch(max_redirects=0)
        if held:
            route.fulfill(response=answer)
        else:
            held.append((route, answer))

    page.route("**/acknowledge", slow_first)
    button = page.get_by_role("button", name="Acknowledge")
    box = button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)  # the mouse itself: no wait for the navigation the click starts
    for _ in range(200):  # bounded: the route handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(25)
    assert held and repo.get_alert(project.store, alert_id)["status"] == "acknowledged"
    if scripts:
        expect(button).to_be_disabled()  # hx-disabled-elt: no second request can start
    else:
        page.mouse.click(x, y)  # the second submission replaces the first navigation
    route, answer = held[0]
    # The plain form's first navigation was cancelled by the second: nobody reads its answer.
    with contextlib.suppress(Error):
        route.fulfill(response=answer)
    page.wait_for_load_state("networkidle")
    notice = page.locator("p.notice")
    expect(notice).to_have_class("notice ok")
    expect(notice).to_have_text(
        f"alert {alert_id} acknowledged" if scripts else f"alert {alert_id} already acknowledged"
    )
    expect(page.get_by_text("cannot be acknowledged")).to_have_count(0)
    assert len(posts) == (1 if scripts else 2), posts
    context.close()
