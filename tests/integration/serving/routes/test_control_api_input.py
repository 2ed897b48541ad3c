"""The control API under a careless client, on PostgreSQL: values no JSON column keeps are a 422."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen.project import Project, open_project
from evergreen.store.audit import list_actions
from tests.support.control import ADMIN, control_app
from tests.support.project import make_project_settings


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Iterator[Project]:
    project = open_project(make_project_settings(tmp_path / "churn", database_url=postgres_url))
    yield project
    project.close()
    project.store.engine.dispose()


@pytest.mark.parametrize(
    ("body", "literal"),
    [
        ('{"values": {"promotion.min_improvement": NaN}}', "NaN"),
        ('{"values": {"promotion.min_improvement": Infinity}}', "Infinity"),
        ('{"values": {"promotion.min_metrics": {"accuracy": -Infinity}}}', "-Infinity"),
        ('{"values": {"alerts.levels": {"warning": NaN, "alert": 0.2, "critical": 0.3}}}', "NaN"),
    ],
)
def test_thresholds_with_a_nan_or_infinity_literal_are_malformed_json(
    pg_project: Project, body: str, literal: str
) -> None:
    # Not JSON (RFC 8259): refused as /predict refuses it, before any key is read (was a 500 on
    # PostgreSQL, whose json column refuses NaN).
    with TestClient(control_app(pg_project), raise_server_exceptions=False) as c:
        r = c.put(
            "/api/settings/thresholds",
            content=body,
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert r.status_code == 400, r.text
        error: dict[str, Any] = r.json()["error"]
        assert error["code"] == "malformed_json" and error["details"] == {"value": literal}
        assert c.get("/api/settings/thresholds", headers=ADMIN).json()["overrides"] == {}
    assert list_actions(pg_project.store) == []


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"values": {"triggers.new_data.min_rows": 99999999999999999999999}}', "triggers.new_data.min_rows"),
    ],
)
def test_thresholds_no_json_column_keeps_are_a_422_naming_the_key(
    pg_project: Project, body: str, key: str
) -> None:
    with TestClient(control_app(pg_project), raise_server_exceptions=False) as c:
        r = c.put(
            "/api/settings/thresholds",
            content=body,
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, (
            r.text
        )  # was a 500: PostgreSQL's json refused what SQLite read back as 1e23
        error: dict[str, Any] = r.json()["error"]
        assert error["code"] == "bad_input" and error["details"] == {"key": key}
        assert error["message"].startswith(f"thresholds key {key}: ")
        assert c.get("/api/settings/thresholds", headers=ADMIN).json()["overrides"] == {}
    assert list_actions(pg_project.store) == []


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59"])
def test_an_audit_since_outside_the_calendar_in_utc_is_a_422(pg_project: Project, since: str) -> None:
    # Valid ISO 8601, but no instant of years 1 to 9999 once in UTC: was a 500 in plain text.
    with TestClient(control_app(pg_project), raise_server_exceptions=False) as c:
        r = c.get("/api/audit", headers=ADMIN, params={"since": since})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == {"field": "since"}


def test_a_bug_behind_a_route_keeps_the_error_shape(
    pg_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evergreen.serving.routes import audit

    def bug(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("a secret-free but internal detail")

    monkeypatch.setattr(audit, "list_actions", bug)
    with TestClient(control_app(pg_project), raise_server_exceptions=False) as c:
        r = c.get("/api/audit", headers=ADMIN)
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": {"code": "internal_error", "message": "internal error (see the server log)", "details": None}
    }


@pytest.mark.parametrize("force", ["yes", 1, "true"])
def test_a_retrain_force_that_is_not_true_or_false_is_a_422(pg_project: Project, force: object) -> None:
    # "yes" started a forced run (202).
    with TestClient(control_app(pg_project), raise_server_exceptions=False) as c:
        r = c.post("/api/retrain", json={"reason": "x", "force": force}, headers=ADMIN)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["field"] == "force"
    assert list_actions(pg_project.store) == []


def test_a_huge_field_name_is_not_sent_back_whole(pg_project: Project) -> None:
    # A 100 000-character key came back three times: a 300 KB 422.
    with TestClient(control_app(pg_project), raise_server_exceptions=False) as c:
        r = c.put("/api/settings/thresholds", json={"values": {"k" * 100_000: 1}}, headers=ADMIN)
        extra = c.post("/api/rollback", json={"reason": "x", "k" * 100_000: 1}, headers=ADMIN)
    for response in (r, extra):
        assert response.status_code == 422, response.text[:300]
        assert len(response.content) < 2_000
    assert list_actions(pg_project.store) == []
