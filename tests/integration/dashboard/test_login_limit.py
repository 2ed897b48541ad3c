"""POST /login with wrong tokens: after a few failures from one client, 429 with Retry-After, even
for the right token; another client is not held back."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from evergreen.dashboard.throttle import FAILURES_PER_CLIENT
from tests.support.dashboard import VIEWER_TOKEN, csrf_of, dashboard_app


def _try(c: Any, token: str) -> Any:
    csrf = csrf_of(c.get("/login").text)
    return c.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False)


def test_failed_logins_from_one_client_are_answered_429_with_retry_after(churn_project: Any) -> None:
    app = dashboard_app(churn_project)
    with TestClient(app, client=("192.0.2.7", 5000)) as c:
        for _ in range(FAILURES_PER_CLIENT):
            assert _try(c, "guess").status_code == 401
        r = _try(c, "guess")
        assert r.status_code == 429, r.text[-500:]
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["content-type"].startswith("text/html") and "too many failed log-ins" in r.text
        assert "guess" not in r.text
        assert _try(c, VIEWER_TOKEN).status_code == 429  # held back, whatever the token
        # Another address on the same app (the app already started: no second lifespan).
        other = TestClient(app, client=("192.0.2.8", 5000))
        assert _try(other, VIEWER_TOKEN).status_code == 303
