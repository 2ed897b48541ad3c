"""The audit page: DESIGN.md §5 calls it "audit"; the dashboard shows it as History at /history."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from evergreen.store.audit import record_action
from tests.support.dashboard import VIEWER_TOKEN, dashboard_app, login


def test_audit_opens_the_history_page_with_its_filters(churn_project: Any) -> None:
    store = churn_project.store
    record_action(store, actor="cli:ann", action="promote", target="version:7", reason="ann's pick")
    record_action(store, actor="cli:bob", action="rollback", target="version:6", reason="bob's undo")
    with TestClient(dashboard_app(churn_project)) as c:
        login(c, VIEWER_TOKEN)
        r = c.get("/audit", params={"actor": "cli:ann"}, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (307, "/history?actor=cli%3Aann")
        page = c.get("/audit", params={"actor": "cli:ann"})
        assert page.status_code == 200 and str(page.url).endswith("/history?actor=cli%3Aann")
        assert "ann&#39;s pick" in page.text and "bob&#39;s undo" not in page.text
        r = c.get("/audit", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (307, "/history")
    with TestClient(dashboard_app(churn_project)) as anonymous:
        r = anonymous.get("/audit")  # the page still needs a session: to the log-in form
        assert r.status_code == 200 and str(r.url).endswith("/login?next=/history")


def test_the_filter_form_with_empty_dates_and_the_next_link_open_the_page(churn_project: Any) -> None:
    """An empty date input is sent as ``since=``, and the pager's links carry every filter, empty
    ones too: pressing Filter with no date, or Next on any long history, was a 422 "since ''"."""
    for i in range(30):
        record_action(churn_project.store, actor="dashboard:otto", action="approve", target=f"run:r{i}")
    with TestClient(dashboard_app(churn_project)) as c:
        login(c, VIEWER_TOKEN)
        r = c.get("/history?actor=otto&action=&version=&target=&since=&until=")
        assert r.status_code == 200, r.text[-600:]
        nxt = re.search(r'href="(/history\?[^"]*)" rel="next"', r.text)
        assert nxt is not None, r.text[-1500:]
        r = c.get(html.unescape(nxt.group(1)))
        assert r.status_code == 200 and "page 2 of" in r.text, r.text[-600:]
        r = c.get("/history", params={"since": "2025-01-02", "until": ""})
        assert r.status_code == 200


def test_a_from_date_after_the_to_date_is_refused_naming_both_not_an_empty_history(
    churn_project: Any,
) -> None:
    record_action(churn_project.store, actor="cli:ann", action="promote", target="version:7")
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        login(c, VIEWER_TOKEN)
        r = c.get("/history", params={"since": "2026-03-02", "until": "2026-03-01"})
        assert r.status_code == 422 and "since 2026-03-02 is after until 2026-03-01" in r.text, r.text[-600:]
        assert c.get("/history", params={"since": "2026-03-01", "until": "2026-03-01"}).status_code == 200
