"""Models page actions: promote and roll back need a reason and a confirmation; audited with the name."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from evergreen import control
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.store.audit import list_actions
from tests.support.dashboard import OPERATOR_TOKEN, dashboard_app, login


def test_rollback_and_promote_from_the_page_are_audited_with_the_name(trained_project: Any) -> None:
    p = trained_project
    control.set_thresholds(
        p, {"promotion.min_improvement": -1.0, "promotion.significance": None}, actor="test"
    )
    assert RetrainRunner(p).run(RetrainRequest(force=True)).status == "promoted"  # v2 champion
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        page = c.get("/models").text
        assert 'action="/models/promote"' in page and 'action="/models/rollback"' in page
        size = p.registry.get_version("2").tags["evergreen.model_size_mb"]
        assert float(size) > 0 and f"<td>{float(size):.2f}</td>" in page
        # No reason, or no confirmation: refused before anything happens.
        r = c.post("/models/rollback", data={"reason": " ", "confirm": "yes", "csrf_token": csrf})
        assert r.status_code == 400 and "a reason is required" in r.text
        r = c.post("/models/rollback", data={"reason": "v2 misbehaves", "csrf_token": csrf})
        assert r.status_code == 400 and "confirmation" in r.text
        assert list_actions(p.store, action="rollback") == []
        r = c.post(
            "/models/rollback",
            data={"reason": "v2 misbehaves", "confirm": "yes", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/models?notice=champion+is+now+v1")
        assert "champion is now v1 (was v2)" in c.get(r.headers["location"]).text
        r = c.post(
            "/models/promote",
            data={"version": "2", "reason": "fixed upstream", "confirm": "yes", "csrf_token": csrf},
        )
        assert r.status_code == 200 and "champion is now v2" in r.text
        # A refused action says why on the page (409 from the control layer), nothing recorded.
        r = c.post(
            "/models/promote", data={"version": "2", "reason": "again", "confirm": "yes", "csrf_token": csrf}
        )
        assert "v2 is already the champion" in r.text
    rows = [
        (a["actor"], a["action"], a["target"], a["reason"])
        for a in list_actions(p.store, actor="dashboard:otto")
    ]
    assert rows == [
        ("dashboard:otto", "promote", "version:2", "fixed upstream"),
        ("dashboard:otto", "rollback", "version:1", "v2 misbehaves"),
    ]
    assert p.registry.version_by_alias("champion") == "2"
