"""``--insecure-local``: loopback Host only, no foreign Origin; every POST to the API is JSON.

The attack these close: a web page open in the operator's browser (or one that rebinds its own
name to 127.0.0.1) sends ``POST /api/rollback`` with an empty ``text/plain`` body, which a browser
sends without a CORS preflight, to a server that opens its control API to loopback clients.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen.serving.app import create_app
from evergreen.store.audit import list_actions

LOCAL = "http://127.0.0.1:8000"


@pytest.fixture
def local_app(trained_project: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("EVERGREEN_TOKENS", raising=False)  # local mode: the control API has no tokens
    return create_app(trained_project.settings, trained_project, insecure_local=True)


def _client(app: Any, base_url: str = LOCAL) -> TestClient:
    # No lifespan: the guards run before any route, and the control API needs no loaded model.
    return TestClient(app, base_url=base_url, client=("127.0.0.1", 50000))


def test_only_loopback_host_names_are_answered(local_app: Any) -> None:
    for base in (LOCAL, "http://localhost:8000", "http://[::1]:8000", "http://localhost"):
        r = _client(local_app, base).get("/api/models")
        assert r.status_code == 200 and r.json()["champion"] == "1", base
    for base in ("http://evil.example", "http://evil.example:8000", "http://10.0.0.7:8000"):
        r = _client(local_app, base).get("/api/models")
        assert r.status_code == 403, base
        assert r.json()["error"]["code"] == "foreign_host"
        assert r.json()["error"]["details"] == {"field": "Host"}
    # A rebinding page reaches 127.0.0.1 but its requests still carry its own name.
    r = _client(local_app).get("/health", headers={"Host": "attacker.example:8000"})
    assert r.status_code == 403


def test_a_web_page_cannot_roll_back(local_app: Any, trained_project: Any) -> None:
    c = _client(local_app)
    page = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    r = c.post("/api/rollback", content=b"", headers=page)
    assert r.status_code == 403 and r.json()["error"]["code"] == "foreign_origin"
    # Without an Origin (or from a sandboxed page, Origin: null) the text/plain body alone is refused.
    r = c.post("/api/rollback", content=b"", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415, r.text
    err = r.json()["error"]
    assert err["code"] == "unsupported_media_type" and "'text/plain'" in err["message"]
    assert err["details"] == {"field": "Content-Type", "content_type": "text/plain"}
    r = c.post("/api/rollback", content=b"", headers={"Content-Type": "text/plain", "Origin": "null"})
    assert r.json()["error"]["code"] == "foreign_origin"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert c.post("/api/rollback", content=b"to=1", headers=form).status_code == 415
    assert c.post("/api/retrain", content=b"", headers={}).status_code == 415  # no type at all
    # Nothing happened: no action audited, the champion where it was.
    assert [a for a in list_actions(trained_project.store) if a["action"] in ("rollback", "retrain")] == []
    assert trained_project.registry.version_by_alias("champion") == "1"
    # The operator's own page (same origin) and tools (no Origin) still act, with JSON.
    own = c.post("/api/rollback", json={}, headers={"Origin": LOCAL})
    assert own.status_code == 409 and own.json()["error"]["code"] == "conflict"  # nothing to roll back to
    assert c.post("/api/rollback", json={}).status_code == 409


def test_json_only_also_applies_without_local_mode(
    trained_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVERGREEN_TOKENS", raising=False)
    c = TestClient(create_app(trained_project.settings, trained_project))  # Host "testserver" is fine here
    assert c.get("/health").status_code == 200
    for path in ("/predict", "/feedback", "/api/rollback"):
        r = c.post(path, content=b"record=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415, path
        assert r.json()["error"]["details"]["content_type"] == "application/x-www-form-urlencoded"
    r = c.put("/api/settings/thresholds", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    # What is not a body route is not touched by the rule (a 404/405 stays what it was).
    assert c.post("/nowhere", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 404
