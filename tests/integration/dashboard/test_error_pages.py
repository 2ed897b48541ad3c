"""A browser that reaches no page (an unknown address, a GET of an action) gets a page in the
dashboard's frame with a way home; an API client keeps the API's JSON error at the same address."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.dashboard import VIEWER_TOKEN, dashboard_app, login

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_unknown_address_or_get_logout_is_a_page_for_a_browser_and_json_for_the_api(
    churn_project: Any,
) -> None:
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        login(c, VIEWER_TOKEN)
        for path, status in (("/alert", 404), ("/logout", 405), ("/runs/x/y/z", 404)):
            r = c.get(path, headers=BROWSER)
            assert r.status_code == status, (path, r.text[:300])
            assert r.headers["content-type"].startswith("text/html"), (path, r.text[:300])
            assert 'class="notice bad"' in r.text and '<a href="/">' in r.text and "</html>" in r.text
            assert ">Overview</a>" in r.text  # the dashboard's frame, navigation included
            if status == 405:
                assert r.headers["allow"] == "POST"
            # An API client (no text/html) at the same address keeps the API's JSON.
            r = c.get(path, headers={"Accept": "*/*"})
            assert r.status_code == status
            assert r.json()["error"]["code"] == {404: "not_found", 405: "method_not_allowed"}[status]
        # Under /api it is the API's, whatever the client accepts.
        r = c.get("/api/no-such-thing", headers=BROWSER)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        r = c.get("/alert", headers=BROWSER)  # logged out: the page offers to log in
        assert r.status_code == 404 and '<a href="/login">Log in</a>' in r.text
