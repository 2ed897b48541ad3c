"""Dashboard sessions: login, roles, CSRF, origin, insecure-local; over TestClient and real uvicorn."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen.serving.auth import TokenTable
from evergreen.store.audit import list_actions
from tests.support.dashboard import OPERATOR_TOKEN, VIEWER_TOKEN, csrf_of, dashboard_app, login
from tests.support.serving import live


@pytest.fixture
def app(churn_project: Any) -> Any:
    # No model needed to test sessions: the project is not trained (pages say "no champion yet").
    return dashboard_app(churn_project)


def test_login_sets_a_strict_httponly_cookie_without_the_token(app: Any) -> None:
    with TestClient(app) as c:
        r = c.get("/", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/login?next=/")
        page = c.get("/login")
        assert page.status_code == 200 and 'type="password"' in page.text
        # A wrong token: 401, the form again, no session.
        bad = c.post("/login", data={"token": "nope", "csrf_token": csrf_of(page.text)})
        assert bad.status_code == 401 and "unknown token" in bad.text
        r = c.post(
            "/login",
            data={"token": OPERATOR_TOKEN, "csrf_token": csrf_of(bad.text), "next": "/runs"},
            follow_redirects=False,
        )
        assert (r.status_code, r.headers["location"]) == (303, "/runs")
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and OPERATOR_TOKEN not in cookie
        assert "otto (operator)" in c.get("/").text


def test_login_needs_the_csrf_token_and_refuses_an_open_redirect(app: Any) -> None:
    with TestClient(app) as c:
        c.get("/login")
        assert c.post("/login", data={"token": OPERATOR_TOKEN}).status_code == 403
        page = c.get("/login")
        r = c.post(
            "/login",
            data={"token": OPERATOR_TOKEN, "csrf_token": csrf_of(page.text), "next": "//evil.example/x"},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/"


def test_viewer_sees_pages_but_no_action_and_a_forged_post_is_refused(app: Any, churn_project: Any) -> None:
    with TestClient(app) as c:
        csrf = login(c, VIEWER_TOKEN)
        for path in ("/", "/runs", "/models"):
            assert c.get(path).status_code == 200, path
        models = c.get("/models").text
        assert "/models/rollback" not in models and "/models/promote" not in models
        before = len(list_actions(churn_project.store))
        r = c.post("/models/rollback", data={"reason": "x", "confirm": "yes", "csrf_token": csrf})
        assert r.status_code == 403 and "vera is viewer; this needs operator" in r.text
        assert len(list_actions(churn_project.store)) == before


def test_operator_post_without_csrf_or_from_another_origin_is_refused(app: Any, churn_project: Any) -> None:
    with TestClient(app) as c:
        csrf = login(c, OPERATOR_TOKEN)
        form = {"reason": "x", "confirm": "yes"}
        r = c.post("/models/rollback", data=form)
        assert r.status_code == 403 and "CSRF" in r.text, r.text
        r = c.post("/models/rollback", data={**form, "csrf_token": "0" * 64})
        assert r.status_code == 403
        r = c.post(
            "/models/rollback", data={**form, "csrf_token": csrf}, headers={"Origin": "http://evil.example"}
        )
        assert r.status_code == 403 and "another site" in r.text
        assert list_actions(churn_project.store, action="rollback") == []
        # Logged out, the same POST is refused too (and the old CSRF token is dead with the session).
        assert c.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
        assert c.post("/models/rollback", data={**form, "csrf_token": csrf}).status_code == 403
        assert c.get("/", follow_redirects=False).status_code == 303


def test_a_client_token_predicts_through_the_api_but_cannot_log_in(churn_project: Any) -> None:
    from tests.support.control import TOKENS

    with TestClient(dashboard_app(churn_project, TOKENS + ",cleo:client:client-tok-4")) as c:
        page = c.get("/login")
        r = c.post("/login", data={"token": "client-tok-4", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 401 and "cleo is client; the dashboard needs viewer" in r.text
        assert c.get("/", follow_redirects=False).status_code == 303


def test_a_removed_token_ends_its_session(app: Any) -> None:
    with TestClient(app) as c:
        login(c, OPERATOR_TOKEN)
        assert c.get("/", follow_redirects=False).status_code == 200
        app.state.control_tokens = TokenTable.parse("vera:viewer:view-tok-1", "EVERGREEN_TOKENS")
        assert c.get("/", follow_redirects=False).status_code == 303


def test_insecure_local_serves_loopback_without_login_and_nobody_else(churn_project: Any) -> None:
    app = dashboard_app(churn_project, tokens="", insecure_local=True)
    # A local-only server answers loopback Host names only (serving.guards): address it as such.
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 5000)) as c:
        page = c.get("/")
        assert page.status_code == 200 and "local (admin)" in page.text
    remote = dashboard_app(churn_project, tokens="", insecure_local=True)
    with TestClient(remote, base_url="http://127.0.0.1", client=("10.1.2.3", 5000)) as c:
        r = c.get("/", follow_redirects=False)
        assert r.status_code == 403 and "the dashboard is disabled" in r.text
    closed = dashboard_app(churn_project, tokens="")
    with TestClient(closed, client=("127.0.0.1", 5000)) as c:
        assert c.get("/", follow_redirects=False).status_code == 403
        assert "no API tokens are configured" in c.get("/login").text


def test_over_real_http_login_then_an_action_with_the_cookie_and_token(app: Any, churn_project: Any) -> None:
    with live(app, ready=False) as srv, srv.client() as c:
        page = c.get("/login")
        r = c.post(
            "/login", data={"token": OPERATOR_TOKEN, "csrf_token": csrf_of(page.text)}, follow_redirects=True
        )
        assert r.status_code == 200 and "otto (operator)" in r.text
        csrf = csrf_of(r.text)
        r = c.post(
            "/models/rollback",
            data={"reason": "no previous yet", "confirm": "yes", "csrf_token": csrf},
            headers={"Origin": srv.url},
            follow_redirects=True,
        )
        # The control layer refuses (nothing to roll back to) and the page says why.
        assert r.status_code == 200 and "nothing to roll back to" in r.text
        assert c.get("/api/models").status_code == 401  # the session cookie is not an API credential


def test_a_pasted_token_is_never_logged_nor_echoed(app: Any) -> None:
    import structlog

    secret = "sk-live-" + "9f" * 16  # a refused paste that holds some other secret
    with TestClient(app) as c, structlog.testing.capture_logs() as logs:
        page = c.get("/login")
        bad = c.post("/login", data={"token": secret, "csrf_token": csrf_of(page.text)})
        assert bad.status_code == 401 and secret not in bad.text
        good = c.post(
            "/login", data={"token": OPERATOR_TOKEN, "csrf_token": csrf_of(bad.text)}, follow_redirects=True
        )
        assert good.status_code == 200 and OPERATOR_TOKEN not in good.text
    assert [e["event"] for e in logs if e["event"].startswith("dashboard_login")] == [
        "dashboard_login_refused",
        "dashboard_login",
    ]
    assert secret not in repr(logs) and OPERATOR_TOKEN not in repr(logs)


def test_a_page_shows_only_the_notice_its_own_sessions_action_wrote(app: Any) -> None:
    with TestClient(app) as c:
        csrf = login(c, OPERATOR_TOKEN)
        form = {"reason": "no previous yet", "confirm": "yes", "csrf_token": csrf}
        r = c.post("/models/rollback", data=form, follow_redirects=False)
        back = r.headers["location"]
        assert back.startswith("/models?notice=nothing+to+roll+back+to") and "&mac=" in back
        assert "nothing to roll back to" in c.get(back).text
        # Words a link from elsewhere puts in the URL are not shown...
        spoof = c.get("/", params={"notice": "session expired: paste your token at evil.example", "ok": "1"})
        assert spoof.status_code == 200 and "evil.example" not in spoof.text
        # ...nor the same link in another session.
        c.cookies.clear()
        login(c, OPERATOR_TOKEN)
        assert "nothing to roll back to" not in c.get(back).text


def test_a_link_followed_while_logged_out_lands_on_its_own_address_after_login(app: Any) -> None:
    """A message's link is ``/alerts?alert=7``; logged out (a session expired), the log-in page
    took only the path along: after logging in, the person was on the list, not on that alert."""
    with TestClient(app) as c:
        r = c.get("/alerts?alert=7&status=open", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=/alerts%3Falert%3D7%26status%3Dopen"
        page = c.get(r.headers["location"])
        assert 'name="next" value="/alerts?alert=7&amp;status=open"' in page.text
        r = c.post(
            "/login",
            data={
                "token": OPERATOR_TOKEN,
                "csrf_token": csrf_of(page.text),
                "next": "/alerts?alert=7&status=open",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/alerts?alert=7&status=open"
