"""What a page does with hostile URLs: huge or zero page numbers, odd filter text, dates at the edge."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen.dashboard.queries import MAX_PAGE
from tests.support.dashboard import OPERATOR_TOKEN, VIEWER_TOKEN, dashboard_app, login

LISTS = ("/runs", "/models", "/monitoring", "/alerts", "/approvals", "/history")


@pytest.fixture
def client(churn_project: Any) -> Any:
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        login(c, VIEWER_TOKEN)
        yield c


def test_page_numbers_past_the_last_page_are_refused_or_empty_never_a_500(client: Any) -> None:
    for path in LISTS:
        assert client.get(path, params={"page": MAX_PAGE}).status_code == 200, path
        for bad in (MAX_PAGE + 1, 10**30, 0, -1, "x"):
            r = client.get(path, params={"page": bad})
            assert r.status_code == 422, (path, bad)
            # a page for the person who followed the link, in the dashboard's frame, naming the value
            assert r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
            assert 'class="notice bad"' in r.text and f"page &#39;{bad}&#39;: " in r.text, (path, bad)


def test_odd_filter_text_and_edge_dates(client: Any) -> None:
    assert client.get("/runs", params={"status": "\x00"}).status_code == 422
    assert client.get("/alerts", params={"level": "a" * 51}).status_code == 422
    # LIKE wildcards in a contains-filter are text, not patterns.
    assert client.get("/history", params={"actor": "%_\\", "target": "'; drop"}).status_code == 200
    r = client.get("/history", params={"since": "0001-01-01", "until": "9999-12-31"})
    assert r.status_code == 200, r.text[-500:]
    assert client.get("/history", params={"until": "10000-01-01"}).status_code == 422


def test_an_id_out_of_range_in_a_form_or_link_is_a_page_and_the_api_keeps_json(churn_project: Any) -> None:
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        csrf = login(c, OPERATOR_TOKEN)
        for path in ("/alerts/99999999999/acknowledge", "/alerts/x/resolve"):
            r = c.post(path, data={"comment": "on it", "csrf_token": csrf})
            assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.text[:300]
            assert "alert_id " in r.text and "</html>" in r.text
        r = c.get("/monitoring/reports/0")
        assert r.status_code == 422 and "report_id &#39;0&#39;: " in r.text
        # The API's routes on the same app keep the API's JSON error, naming the field.
        r = c.get("/api/alerts", params={"limit": 0}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "limit"


def test_a_filter_value_no_list_holds_is_refused_naming_the_field_not_an_empty_list(client: Any) -> None:
    """``?status=faild`` answered "No run matches." (a typo read as "nothing failed"); now a 422 page
    naming the field, the value and what it may be. An empty value is the form's "any"."""
    cases = (
        ("/runs", "status", "faild"),
        ("/runs", "trigger", "cron"),
        ("/alerts", "status", "closed"),
        ("/alerts", "level", "error"),
        ("/approvals", "trigger", "cron"),
        ("/models", "decision", "accepted"),
    )
    for path, name, bad in cases:
        assert client.get(path, params={name: ""}).status_code == 200, (path, name)
        r = client.get(path, params={name: bad})
        assert r.status_code == 422, (path, name, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert f"{name} &#39;{bad}&#39;: not one of " in r.text, (path, r.text[-800:])
    r = client.get("/runs", params={"status": "failed", "trigger": "manual"})
    assert r.status_code == 200
