"""Dashboard actions refused on their merits: the notice says why, and the audit records nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from evergreen.alerts import repository as repo
from evergreen.alerts.rules import AlertCandidate
from evergreen.store.audit import list_actions
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, retrain_lock_name
from tests.support.control import pending_candidate
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


def test_acting_on_alert_after_alert_keeps_the_address_short_and_the_filters(churn_project: Any) -> None:
    """The form's ``back`` is the page's address, notice included: each action appended one more
    ``notice=…&ok=…&mac=…``, so a person working down the list grew the address without end."""
    import re
    from urllib.parse import parse_qs, urlsplit

    p = churn_project
    ids = [
        repo.insert_alert(p.store, AlertCandidate(f"drift:w{i}", "drift", "alert", f"drift {i}"), utcnow())
        for i in range(6)
    ]
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        html = c.get("/alerts", params={"status": "open", "level": "alert"}).text
        for alert_id in ids:
            back = re.search(r'name="back" value="([^"]+)"', html)
            assert back is not None
            r = c.post(
                f"/alerts/{alert_id}/acknowledge",
                data={"comment": "seen", "back": back.group(1).replace("&amp;", "&"), "csrf_token": csrf},
                follow_redirects=False,
            )
            location = r.headers["location"]
            query = parse_qs(urlsplit(location).query)
            assert {k: len(v) for k, v in query.items()} == {
                "status": 1,
                "level": 1,
                "notice": 1,
                "ok": 1,
                "mac": 1,
            }, location
            assert query["notice"] == [f"alert {alert_id} acknowledged"] and query["status"] == ["open"]
            page = c.get(location)
            assert f"alert {alert_id} acknowledged" in page.text
            html = page.text


def test_an_alerts_dashboard_link_shows_that_alert_however_many_came_after_it(churn_project: Any) -> None:
    """Every message links to the alert on the dashboard. The link was ``/alerts#alert-<id>``: the
    first page, 25 newest alerts. A long-open alert's repeat, escalation or resolution linked to a
    page without it once 25 newer ones existed."""
    from urllib.parse import urlsplit

    from evergreen.alerts.messages import AlertMessage

    p = churn_project
    first = repo.insert_alert(p.store, AlertCandidate("drift:7d", "drift", "alert", "the old one"), utcnow())
    for i in range(30):
        repo.insert_alert(
            p.store, AlertCandidate(f"pending_approval:r{i}", "pending_approval", "warning", "n"), utcnow()
        )
    assert first is not None
    msg = AlertMessage(
        "churn", "repeated", first, "drift:7d", "drift", "alert", "open", "t", "o", "u", "http://eg:1/"
    )
    link = urlsplit(msg.link)
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        assert f'id="alert-{first}"' not in c.get("/alerts").text  # 30 newer ones fill the first page
        r = c.get(f"{link.path}?{link.query}")
        assert r.status_code == 200 and f'id="alert-{first}"' in r.text and link.fragment == f"alert-{first}"
        assert r.text.count('class="card"') == 1  # that alert, and no other
        back = f"{link.path}?{link.query}"
        r = c.post(f"/alerts/{first}/acknowledge", data={"comment": "seen", "back": back, "csrf_token": csrf})
        assert r.status_code == 200 and f'id="alert-{first}"' in r.text and "acknowledged" in r.text
        assert c.get("/alerts", params={"alert": ""}).status_code == 200  # empty: every alert
        r = c.get("/alerts", params={"alert": "0"})
        assert r.status_code == 422 and "alert &#39;0&#39;" in r.text


def test_rejecting_a_run_whose_candidate_version_was_deleted_settles_it(trained_project: Any) -> None:
    """Its version deleted (by hand in MLflow's UI), a pending run could not be approved (no such
    version) nor rejected: "reject" was a 500, and the run waited for approval for ever."""
    import mlflow

    from evergreen.store.runs import get_run

    p = trained_project
    run_id = pending_candidate(p)
    version = get_run(p.store, run_id)["candidate_version"]
    mlflow.MlflowClient(tracking_uri=p.settings.storage.mlflow_tracking_uri).delete_model_version(
        "churn", version
    )
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        r = c.post(f"/approvals/{run_id}/approve", data={"comment": "ok", "csrf_token": csrf})
        assert r.status_code == 200 and f"model version {version} of churn not found" in r.text
        r = c.post(
            f"/approvals/{run_id}/reject",
            data={"comment": "gone", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 303 and "ok=1" in r.headers["location"], r.text[-400:]
        assert "rejected" in c.get(r.headers["location"]).text
    assert get_run(p.store, run_id)["status"] == "rejected"
    assert [a["action"] for a in list_actions(p.store, target=f"run:{run_id}")] == ["reject"]


def test_a_second_approve_or_acknowledge_of_the_same_thing_is_shown_done_not_refused(
    trained_project: Any,
) -> None:
    """The second click of a double-click (or a second person) is refused 409 by the control layer,
    by design; the page said it "cannot be acknowledged" / "is promoted, not pending_approval" as a
    failure although the thing was done. Now it says so, as done; another conflict stays a refusal."""
    from evergreen.alerts import repository as repo
    from evergreen.alerts.rules import AlertCandidate
    from evergreen.store.engine import utcnow

    p = trained_project
    pending_run = pending_candidate(p)
    alert_id = repo.insert_alert(
        p.store, AlertCandidate("drift:7d", "drift", "alert", "data drift"), utcnow()
    )
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        form = {"comment": "looks right", "csrf_token": csrf}
        first = c.post(f"/approvals/{pending_run}/approve", data=form)
        assert 'class="notice ok"' in first.text and "champion is now v" in first.text
        again = c.post(f"/approvals/{pending_run}/approve", data=form)
        assert again.status_code == 200
        assert 'class="notice ok"' in again.text, again.text[-1500:]
        assert f"run {pending_run} already approved" in again.text
        # Rejecting the approved run is a real conflict: still shown as the refusal it is.
        refused = c.post(f"/approvals/{pending_run}/reject", data=form)
        assert 'class="notice bad"' in refused.text and "not pending_approval" in refused.text

        for _ in range(2):
            r = c.post(f"/alerts/{alert_id}/acknowledge", data=form)
            assert 'class="notice ok"' in r.text, r.text[-1500:]
        assert f"alert {alert_id} already acknowledged" in r.text
        assert c.post(f"/alerts/{alert_id}/resolve", data=form).text.count('class="notice ok"') == 1
        r = c.post(f"/alerts/{alert_id}/acknowledge", data=form)  # resolved: cannot be acknowledged
        assert 'class="notice bad"' in r.text and "cannot be acknowledged" in r.text
