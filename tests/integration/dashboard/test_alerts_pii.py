"""Alert rows written before the rules scrubbed PII (commit 110c6fa) still hold raw e-mail addresses
and phone numbers: the Alerts page shows them scrubbed, as the send path sends them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from evergreen.alerts import repository as repo
from evergreen.alerts.rules import AlertCandidate
from evergreen.store.engine import utcnow
from tests.support.dashboard import VIEWER_TOKEN, dashboard_app, login

EMAIL, PHONE = "jane.doe@example.com", "+44 20 7946 0958"


def _old_alert_row(store: Any, details: dict[str, Any]) -> int:
    """An alert and a failed delivery as an old release wrote them: straight to the rows, never
    through the rules' scrub (raw e-mail addresses and phone numbers)."""
    alert_id = repo.insert_alert(
        store,
        AlertCandidate(
            "retrain_failed:x",
            "retrain_failed",
            "alert",
            f"retrain failed: could not parse {EMAIL}",
            details=details,
        ),
        utcnow(),
    )
    assert alert_id is not None
    repo.record_delivery(
        store,
        alert_id=alert_id,
        channel="ops-mail",
        channel_type="email",
        event="opened",
        level="alert",
        attempt=1,
        status="failed",
        error=f"550 mailbox {EMAIL} unknown",
    )
    return alert_id


def test_an_old_alert_rows_pii_is_scrubbed_on_the_alerts_page(churn_project: Any) -> None:
    _old_alert_row(
        churn_project.store,
        {"error": f"value {EMAIL} (call {PHONE})", "reason": f"asked by {EMAIL}", "run": "r1"},
    )
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        login(c, VIEWER_TOKEN)
        r = c.get("/alerts")
        assert r.status_code == 200
        assert EMAIL not in r.text and "7946" not in r.text, r.text
        assert "could not parse &lt;EMAIL&gt;" in r.text  # the title
        assert "value &lt;EMAIL&gt; (call &lt;PHONE&gt;)" in r.text  # the evidence
        assert "asked by &lt;EMAIL&gt;" in r.text
        assert "550 mailbox &lt;EMAIL&gt; unknown" in r.text  # the delivery's error
        assert ">r1<" in r.text  # words evergreen chose are shown as they are


def test_an_old_alert_rows_pii_is_scrubbed_in_the_api_too(churn_project: Any) -> None:
    """``/api/alerts`` and ``/api/alerts/{id}`` return the row as the page shows it."""
    alert_id = _old_alert_row(churn_project.store, {"error": f"value {EMAIL} (call {PHONE})", "run": "r2"})
    auth = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        listed = c.get("/api/alerts", headers=auth)
        one = c.get(f"/api/alerts/{alert_id}", headers=auth)
    assert listed.status_code == 200 and one.status_code == 200, (listed.text, one.text)
    for body in (listed.text, one.text):
        assert EMAIL not in body and "7946" not in body, body
    [row] = [r for r in listed.json() if r["id"] == alert_id]
    assert row["title"] == "retrain failed: could not parse <EMAIL>"
    assert row["details"] == {"error": "value <EMAIL> (call <PHONE>)", "run": "r2"}
    assert one.json()["title"] == row["title"] and one.json()["details"] == row["details"]
    assert [d["error"] for d in one.json()["deliveries"]] == ["550 mailbox <EMAIL> unknown"]


def test_an_alert_row_whose_details_are_not_an_object_is_shown_scrubbed(churn_project: Any) -> None:
    """A row edited by hand: ``details`` a list of text. The page was a 500 (and would have shown
    the raw words)."""
    from sqlalchemy import update

    from evergreen.store.tables import alerts

    store = churn_project.store
    alert_id = repo.insert_alert(store, AlertCandidate("drift:7d", "drift", "alert", "data drift"), utcnow())
    with store.engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(details=[f"ask {EMAIL}", 3]))
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        login(c, VIEWER_TOKEN)
        r = c.get("/alerts")
        assert r.status_code == 200, r.text[-500:]
        assert EMAIL not in r.text and "[&#34;ask &lt;EMAIL&gt;&#34;, 3]" in r.text
