"""The control API on a seeded project: roles on every mutating route, actions audited, thresholds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from evergreen.alerts import raise_alerts
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.serving.auth import TokenTable
from evergreen.store.audit import list_actions
from tests.support.control import ADMIN, OPERATOR, TOKENS, VIEWER, control_app

MUTATING = [
    ("post", "/api/retrain", {"reason": "r"}),
    ("post", "/api/rollback", {}),
    ("post", "/api/runs/nope/approve", {}),
    ("post", "/api/runs/nope/reject", {}),
    ("post", "/api/alerts/1/acknowledge", {}),
    ("post", "/api/alerts/1/resolve", {}),
    ("put", "/api/settings/thresholds", {"values": {}}),
]


@pytest.fixture
def client(trained_project: Any) -> Any:
    with TestClient(control_app(trained_project)) as c:
        yield c
    trained_project.close()  # the alert deliveries of the test go out before the next one


def test_every_mutating_route_needs_a_token_and_the_role(client: TestClient) -> None:
    for method, path, body in MUTATING:
        r = client.request(method, path, json=body)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
        assert (
            client.request(method, path, json=body, headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        r = client.request(method, path, json=body, headers=VIEWER)
        assert r.status_code == 403, path
        assert r.json()["error"]["details"]["role"] == "viewer"
    # Operators pass the gate (the action itself may then be refused on its merits, never 401/403) ...
    for method, path, body in MUTATING[1:-1]:
        assert client.request(method, path, json=body, headers=OPERATOR).status_code in (200, 404, 409), path
    # ... except the settings, which are admin only.
    assert client.put("/api/settings/thresholds", json={"values": {}}, headers=OPERATOR).status_code == 403
    assert client.put("/api/settings/thresholds", json={"values": {}}, headers=ADMIN).status_code == 200
    # Reading needs a viewer token too.
    assert client.get("/api/models").status_code == 401
    assert client.get("/api/models", headers=VIEWER).json()["champion"] == "1"


def test_no_tokens_disables_the_api_unless_insecure_local_on_loopback(trained_project: Any) -> None:
    app = control_app(trained_project, tokens="")
    with TestClient(app, client=("127.0.0.1", 5000)) as c:
        r = c.get("/api/runs")
        assert r.status_code == 403 and r.json()["error"]["code"] == "control_api_disabled"
        assert "EVERGREEN_TOKENS" in r.json()["error"]["message"]
    app = control_app(trained_project, tokens="", insecure_local=True)
    with TestClient(app, client=("127.0.0.1", 5000)) as c:
        assert c.get("/api/runs").status_code == 200
    with TestClient(app, client=("10.1.2.3", 5000)) as c:
        assert c.get("/api/runs").status_code == 403


def test_tokens_are_kept_as_hashes_and_bad_entries_name_no_token() -> None:
    table = TokenTable.parse(TOKENS, "EVERGREEN_TOKENS")
    assert "op-tok-2" not in repr(table)
    assert table.lookup("op-tok-2") is not None and table.lookup("op-tok-") is None
    from evergreen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"entry 2 \(bob\) has role 'root'") as exc:
        TokenTable.parse("a:viewer:x,bob:root:hunter2", "EVERGREEN_TOKENS")
    assert "hunter2" not in str(exc.value)


def test_rollback_reject_approve_audited_with_actor_and_reason(
    client: TestClient, trained_project: Any
) -> None:
    p = trained_project
    # v2 promoted (min_improvement -1, no significance: any candidate wins), then pending ones.
    r = client.put(
        "/api/settings/thresholds",
        headers=ADMIN,
        json={
            "values": {"promotion.min_improvement": -1.0, "promotion.significance": None},
            "reason": "test",
        },
    )
    assert r.status_code == 200, r.text
    assert RetrainRunner(p).run(RetrainRequest(force=True)).status == "promoted"
    r = client.post("/api/rollback", headers=OPERATOR, json={"reason": "v2 misbehaves"})
    assert r.json() == {
        "action": "rollback",
        "version": "1",
        "previous": "2",
        "message": "champion is now v1 (was v2)",
    }
    assert (
        client.put(
            "/api/settings/thresholds", headers=ADMIN, json={"values": {"promotion.require_approval": True}}
        ).status_code
        == 200
    )
    first = RetrainRunner(p).run(RetrainRequest(force=True))
    assert first.status == "pending_approval"
    raise_alerts(p)  # what the scheduler does after a run
    (pending,) = client.get("/api/alerts", headers=VIEWER, params={"kind": "pending_approval"}).json()
    assert pending["title"].startswith(f"candidate v{first.candidate_version} of run {first.run_id} waits")
    r = client.post(f"/api/runs/{first.run_id}/reject", headers=OPERATOR, json={"reason": "not now"})
    assert r.status_code == 200 and r.json()["action"] == "reject"
    second = RetrainRunner(p).run(RetrainRequest(force=True))
    r = client.post(f"/api/runs/{second.run_id}/approve", headers=OPERATOR, json={"reason": "looks good"})
    assert r.status_code == 200, r.text
    assert client.get("/api/models", headers=VIEWER).json()["champion"] == second.candidate_version
    audit = client.get("/api/audit", headers=VIEWER, params={"actor": "api:otto"}).json()
    assert [(a["action"], a["target"], a["reason"]) for a in audit] == [
        ("approve", f"version:{second.candidate_version}", "looks good"),
        ("reject", f"run:{first.run_id}", "not now"),
        ("rollback", "version:1", "v2 misbehaves"),
    ]
    assert audit[2]["before"] == {"champion": "2"} and audit[2]["after"] == {"champion": "1", "previous": "2"}
    # The evaluation after reject resolved the waiting alert; the approval raised an info one.
    assert client.get(f"/api/alerts/{pending['id']}", headers=VIEWER).json()["status"] == "resolved"
    kinds = {(a["kind"], a["status"]) for a in client.get("/api/alerts", headers=VIEWER).json()}
    assert ("champion_changed", "open") in kinds
    assert ("pending_approval", "open") not in kinds
    # A run that is no longer pending: 409 with the reason.
    r = client.post(f"/api/runs/{first.run_id}/approve", headers=OPERATOR, json={})
    assert r.status_code == 409 and "rejected, not pending_approval" in r.json()["error"]["message"]


def test_thresholds_validated_persisted_and_in_status(client: TestClient, trained_project: Any) -> None:
    from evergreen.control import status as project_status

    bad = client.put(
        "/api/settings/thresholds",
        headers=ADMIN,
        json={"values": {"alerts.levels": {"warning": 0.3, "alert": 0.2}}},
    )
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith(
        "thresholds key alerts.levels:"
    )
    assert (
        client.put(
            "/api/settings/thresholds", headers=ADMIN, json={"values": {"training.seed": 1}}
        ).status_code
        == 422
    )
    ok = client.put(
        "/api/settings/thresholds",
        headers=ADMIN,
        json={"values": {"triggers.drift.share": 0.5}, "reason": "noisy"},
    )
    assert ok.json()["values"]["triggers.drift.share"] == 0.5
    assert (
        client.get("/api/settings/thresholds", headers=VIEWER).json()["overrides"]["triggers.drift.share"][
            "actor"
        ]
        == "api:ada"
    )
    assert project_status(trained_project)["overrides"]["triggers.drift.share"]["value"] == 0.5
    (row,) = list_actions(trained_project.store, action="thresholds_changed")
    assert (row["actor"], row["before"], row["after"]) == (
        "api:ada",
        {"triggers.drift.share": 0.3},
        {"triggers.drift.share": 0.5},
    )
    reset = client.put("/api/settings/thresholds", headers=ADMIN, json={"reset": ["triggers.drift.share"]})
    assert reset.json()["values"]["triggers.drift.share"] == 0.3 and reset.json()["overrides"] == {}


def test_alert_ack_and_resolve_by_api(client: TestClient, trained_project: Any) -> None:
    from evergreen.alerts import raise_alerts

    raise_alerts(trained_project)  # v1's promotion: one info alert
    (alert,) = client.get("/api/alerts", headers=VIEWER).json()
    assert alert["kind"] == "champion_changed" and alert["level"] == "info"
    r = client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=OPERATOR, json={"reason": "seen"})
    assert r.json()["status"] == "acknowledged" and r.json()["acknowledged_by"] == "api:otto"
    assert client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=OPERATOR).status_code == 409
    assert client.post(f"/api/alerts/{alert['id']}/resolve", headers=OPERATOR).json()["status"] == "resolved"
    assert client.get("/api/alerts/999999", headers=VIEWER).status_code == 404
    detail = client.get(f"/api/alerts/{alert['id']}", headers=VIEWER).json()
    assert {d["channel"] for d in detail["deliveries"]} <= {"log"}
    actions = [a["action"] for a in list_actions(trained_project.store, target=f"alert:{alert['id']}")]
    assert actions == ["alert_resolved", "alert_acknowledged", "alert_opened"]


def test_retrain_by_api_runs_in_the_background_with_actor_and_reason(client: TestClient) -> None:
    r = client.post("/api/retrain", headers=OPERATOR, json={"reason": "new labels arrived", "force": True})
    assert r.status_code == 202 and r.json()["queued"] is False
    for thread in client.app.state.background_retrains.threads:  # type: ignore[attr-defined]
        thread.join()
    (run, _) = client.get("/api/runs", headers=VIEWER, params={"limit": 2}).json()
    assert (run["actor"], run["reason"], run["trigger"]) == ("api:otto", "new labels arrived", "manual")
    assert client.post("/api/retrain", headers=OPERATOR, json={"reason": ""}).status_code == 422


def test_router_in_the_serving_app_reads_its_context(trained_project: Any) -> None:
    """The serving factory includes the router and keeps the project on ``app.state.ctx``."""
    from evergreen.serving.app import create_app

    app = create_app(trained_project.settings, trained_project)
    assert "/api/models" in app.openapi()["paths"]
    app.state.control_tokens = TokenTable.parse(TOKENS, "EVERGREEN_TOKENS")
    c = TestClient(app)  # no lifespan: the model watcher and the log writer are not needed here
    assert c.get("/api/models", headers=VIEWER).json()["champion"] == "1"
    r = c.post("/api/rollback", headers=OPERATOR, json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"  # nothing to roll back to
    # The API has no --to option (it said "give --to VERSION"); its body field is "to".
    assert r.json()["error"]["message"] == (
        "nothing to roll back to: no 'previous' alias; name the version to roll back to"
    )
    assert c.post("/api/rollback", json={}).status_code == 401
    assert c.post("/api/rollback", headers=OPERATOR).status_code == 415  # no body, no type: not JSON


def test_audit_since_with_a_utc_offset_means_the_same_instant(
    client: TestClient, trained_project: Any
) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from evergreen.store.audit import record_action

    record_action(trained_project.store, actor="api:tz", action="probe", target="tz")
    (row,) = list_actions(trained_project.store, actor="api:tz")
    at = datetime.fromisoformat(row["at"]).astimezone(UTC)

    def seen(since: datetime) -> int:
        params = {"actor": "api:tz", "since": since.isoformat()}
        return len(client.get("/api/audit", headers=VIEWER, params=params).json())

    # Wall-clock time east of UTC is later, west of it earlier: only the instant may decide.
    assert seen((at - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=5)))) == 1
    assert seen((at + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=-5)))) == 0


def test_malformed_json_is_the_same_error_on_predict_and_on_the_control_api(trained_project: Any) -> None:
    """One renderer for the app: a body that is not JSON is a 400 ``malformed_json`` wherever it lands."""
    from evergreen.serving.app import create_app

    app = create_app(trained_project.settings, trained_project)
    app.state.control_tokens = TokenTable.parse(TOKENS, "EVERGREEN_TOKENS")
    c = TestClient(app)  # no lifespan: the body is refused before any model is needed
    broken = {"content": b'{"reason": ', "headers": {"content-type": "application/json", **OPERATOR}}
    answers = {
        "/predict": c.post("/predict", **broken),  # type: ignore[arg-type]
        "/api/retrain": c.post("/api/retrain", **broken),  # type: ignore[arg-type]
        "/api/rollback": c.post("/api/rollback", **broken),  # type: ignore[arg-type]
        "/api/settings/thresholds": c.put("/api/settings/thresholds", **broken),  # type: ignore[arg-type]
    }
    for path, r in answers.items():
        assert r.status_code == 400, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "malformed_json", path
        assert error["message"].startswith("request body is not valid JSON: "), path
    # A well-formed body with a bad field stays a 422 naming the field, on both surfaces.
    bad = c.post("/api/retrain", json={"reason": "r", "force": "often"}, headers=OPERATOR)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert bad.json()["error"]["details"]["field"] == "force"
    assert c.post("/predict", json=[1]).json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b'{"reason": "first", "reason": "second"}', "duplicate_key", "reason"),
        (b'{"values": {"promotion.min_improvement": NaN}}', "malformed_json", None),
        (b'{"values": {"promotion.min_improvement": Infinity}}', "malformed_json", None),
        (b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "json_too_deep", None),
    ],
)
def test_the_control_api_refuses_the_json_predict_refuses(
    trained_project: Any, body: bytes, code: str, field: str | None
) -> None:
    """``json.loads`` keeps a repeated key's last value and reads NaN / Infinity as numbers; the control
    API reads its bodies with /predict's parser, so both surfaces refuse them with the same code."""
    from evergreen.serving.app import create_app

    app = create_app(trained_project.settings, trained_project)
    app.state.control_tokens = TokenTable.parse(TOKENS, "EVERGREEN_TOKENS")
    c = TestClient(app)
    headers = {"content-type": "application/json", **ADMIN}
    for method, path in (
        ("POST", "/api/retrain"),
        ("POST", "/api/rollback"),
        ("PUT", "/api/settings/thresholds"),
    ):
        r = c.request(method, path, content=body, headers=headers)
        assert r.status_code == 400, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == code, (path, error)
        if field is not None:
            assert error["details"]["field"] == field
    assert (
        c.post("/predict", content=body, headers={"content-type": "application/json"}).json()["error"]["code"]
        == code
    )
    # Nothing was acted on: no override stored, no audit row.
    assert c.get("/api/settings/thresholds", headers=ADMIN).json()["overrides"] == {}


def test_a_run_status_filter_must_be_a_run_status(client: TestClient) -> None:
    (run,) = client.get("/api/runs", headers=VIEWER, params={"status": "promoted"}).json()
    assert run["status"] == "promoted"
    # A typo was 200 [] (nothing matches), as if no run had that status.
    r = client.get("/api/runs", headers=VIEWER, params={"status": "promotd"})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "status"
