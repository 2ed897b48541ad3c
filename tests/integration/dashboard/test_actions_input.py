"""Dashboard actions refused on their merits: the notice says why, and the audit records nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from evergreen.alerts import repository as repo
from evergreen.alerts.rules import AlertCandidate
from evergreen.store.audit import list_actions
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, retrain_lock_name
from tests.support.dashboard import OPERATOR_TOKEN, dashboard_app, login


def test_retrain_from_an_alert_while_a_retrain_runs_is_refused_and_not_noted(churn_project: Any) -> None:
    p = churn_project
    alert_id = repo.insert_alert(p.store, AlertCandidate("drift:7d", "drift", "alert", "drift"), utcnow())
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        with LeaseLock(p.store, retrain_lock_name("churn"), run_id="r-busy"):
            r = c.post(f"/alerts/{alert_id}/retrain", data={"comment": "labels fixed", "csrf_token": csrf})
        assert r.status_code == 200 and "a retrain is already running (run r-busy)" in r.text
        r = c.post("/alerts/999/retrain", data={"comment": "labels fixed", "csrf_token": csrf})
        assert r.status_code == 200 and "alert 999 not found" in r.text
    # Was ("alert_retrain", "alert:1") by dashboard:otto: a decision recorded that nothing carried out.
    assert [a for a in list_actions(p.store) if a["actor"] == "dashboard:otto"] == []
