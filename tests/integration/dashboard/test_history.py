"""The audit page: DESIGN.md §5 calls it "audit"; the dashboard shows it as History at /history."""

from __future__ import annotations

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
