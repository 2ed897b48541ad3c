"""Every page on a project with real history (runs, drift reports, alerts, predictions), and every action.

Actions go through the control layer and land in the audit trail as ``dashboard:<token name>``.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from evergreen import control
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.store.audit import list_actions
from evergreen.store.tables import feedback
from tests.support.dashboard import (
    ADMIN_TOKEN,
    OPERATOR_TOKEN,
    PAGES,
    VIEWER_TOKEN,
    csrf_of,
    dashboard_app,
    login,
    seed_history,
)


def test_pages_for_a_viewer_and_the_operator_and_admin_actions(trained_project: Any) -> None:
    p = trained_project
    seed_history(p)
    with TestClient(dashboard_app(p)) as c:
        login(c, VIEWER_TOKEN)
        for path in PAGES:
            r = c.get(path)
            assert r.status_code == 200, (path, r.text[-2000:])
            if path != "/predict/form":  # predicting is open to viewers; no other action is
                assert 'method="post"' not in r.text.split("<main")[1], path
            assert all(f'href="{item}"' in r.text for item in PAGES), path
        monitoring = c.get("/monitoring").text
        assert monitoring.count("<svg") >= 4 and 'class="threshold"' in monitoring
        assert 'href="/monitoring/reports/3"' in monitoring and "drift_share 0.3000" in monitoring
        report = c.get("/monitoring/reports/3")
        assert report.status_code == 200 and report.headers["content-security-policy"] == "sandbox"
        assert c.get("/monitoring/reports/999").status_code == 404
        alerts = c.get("/alerts", params={"status": "open", "level": "critical"}).text
        assert "data drift score 0.333" in alerts and "champion_changed" not in alerts
        assert 'name="value:' not in c.get("/settings").text  # thresholds are read-only below admin

        csrf = login(c, OPERATOR_TOKEN)
        drift_alert = 1
        r = c.post(
            f"/alerts/{drift_alert}/investigate", data={"comment": "checking upstream", "csrf_token": csrf}
        )
        assert r.status_code == 200 and "investigating alert 1" in r.text
        r = c.post(f"/alerts/{drift_alert}/acknowledge", data={"comment": " ", "csrf_token": csrf})
        assert r.status_code == 400 and "a comment is required" in r.text
        r = c.post(f"/alerts/{drift_alert}/acknowledge", data={"comment": "on it", "csrf_token": csrf})
        assert "alert 1 acknowledged" in r.text
        r = c.post(f"/alerts/{drift_alert}/acknowledge", data={"comment": "again", "csrf_token": csrf})
        # The control layer's 409 (already acknowledged) is shown as done, not as a failure.
        assert "alert 1 already acknowledged" in r.text and "cannot be acknowledged" not in r.text
        r = c.post("/alerts/2/resolve", data={"comment": "labels were late", "csrf_token": csrf})
        assert "alert 2 resolved" in r.text

        csrf = login(c, ADMIN_TOKEN)
        page = c.get("/settings").text
        assert 'name="value:promotion.require_approval" value="false"' in page
        r = c.post(
            "/settings",
            data={
                "value:promotion.require_approval": "true",
                "value:promotion.min_improvement": "-1",
                "value:promotion.significance": "null",
                "value:triggers.drift.share": "0.3",  # unchanged: not an override
                "reason": "review every model",
                "csrf_token": csrf_of(page),
            },
        )
        assert (
            "changed: promotion.min_improvement, promotion.require_approval, promotion.significance" in r.text
        )
        assert "by dashboard:ada" in r.text
        bad = c.post("/settings", data={"value:triggers.drift.share": "lots", "csrf_token": csrf})
        assert "triggers.drift.share" in bad.text and "not a JSON value" in bad.text
        typo = c.post("/settings", data={"value:promotion.min_improvment": "0.1", "csrf_token": csrf})
        # shown as the page's refusal, as the bad JSON above (it said "nothing changed")
        assert 'class="notice bad"' in typo.text and "nothing changed" not in typo.text
        assert "thresholds key promotion.min_improvment: cannot be changed at run time" in typo.text

    # The next decision uses the thresholds set from the page: the candidate waits for approval.
    pending = RetrainRunner(p).run(RetrainRequest(force=True, reason="weekly"))
    assert pending.status == "pending_approval", pending.reason
    with TestClient(dashboard_app(p)) as c:
        csrf = login(c, OPERATOR_TOKEN)
        page = c.get("/approvals").text
        assert f"Candidate v{pending.candidate_version} of run" in page and "weekly" in page
        # Filtered by the trigger that started the run (RetrainRequest's default: manual).
        assert f"Candidate v{pending.candidate_version}" in c.get("/approvals?trigger=manual").text
        assert f"Candidate v{pending.candidate_version}" not in c.get("/approvals?trigger=drift").text
        r = c.post(f"/approvals/{pending.run_id}/approve", data={"comment": "", "csrf_token": csrf})
        assert r.status_code == 400
        r = c.post(
            f"/approvals/{pending.run_id}/approve", data={"comment": "looks right", "csrf_token": csrf}
        )
        assert f"champion is now v{pending.candidate_version}" in r.text, r.text[-1500:]
        history = c.get("/history", params={"actor": "dashboard:otto"}).text
        for action in ("approve", "alert_acknowledged", "alert_investigating", "alert_resolved"):
            assert f"<td>{action}</td>" in history, action
        only = c.get("/history", params={"version": pending.candidate_version, "action": "approve"}).text
        assert "looks right" in only and "<td>alert_acknowledged</td>" not in only
    rows = {(a["action"], a["target"], a["reason"]) for a in list_actions(p.store, actor="dashboard:otto")}
    assert rows == {
        ("alert_investigating", "alert:1", "checking upstream"),
        ("alert_acknowledged", "alert:1", "on it"),
        ("alert_resolved", "alert:2", "labels were late"),
        ("approve", f"version:{pending.candidate_version}", "looks right"),
    }
    (changed,) = list_actions(p.store, action="thresholds_changed", actor="dashboard:ada")
    assert changed["reason"] == "review every model"
    assert control.get_thresholds(p)["values"]["promotion.require_approval"] is True


def test_predict_form_predicts_and_the_label_is_stored(trained_project: Any) -> None:
    with TestClient(dashboard_app(trained_project)) as c:
        csrf = login(c, VIEWER_TOKEN)
        form = c.get("/predict/form").text
        assert 'name="f:tenure" type="number" step="any"' in form
        assert 'name="f:support_calls" type="number" step="1"' in form
        record = {
            "f:tenure": "13",
            "f:monthly_fee": "44.07",
            "f:support_calls": "0",
            "f:plan": "standard",
            "f:region": "east",
            "f:last_ticket": "thanks",
        }
        r = c.post("/predict/form", data={**record, "f:support_calls": "1.5", "csrf_token": csrf})
        assert r.status_code == 422 and "support_calls" in r.text and "whole number" in r.text
        r = c.post("/predict/form", data={**record, "csrf_token": csrf})
        assert r.status_code == 200 and "Model version</dt><dd>v1" in r.text
        assert "<caption>Probabilities</caption>" in r.text
        pid = r.text.split('name="prediction_id" value="')[1].split('"')[0]
        r = c.post("/predict/feedback", data={"prediction_id": pid, "label": "maybe", "csrf_token": csrf})
        assert r.status_code == 422 and "not a class of the model" in r.text
        r = c.post("/predict/feedback", data={"prediction_id": pid, "label": "yes", "csrf_token": csrf})
        assert r.status_code == 200 and f"stored for prediction <code>{pid}</code>" in r.text
    with trained_project.store.connect() as conn:
        rows = conn.execute(
            select(feedback.c.label, feedback.c.labelled_by).where(feedback.c.prediction_id == pid)
        ).all()
    assert [tuple(r) for r in rows] == [("yes", "vera")]


def test_retrain_now_from_an_alert_runs_with_the_name_and_the_comment(trained_project: Any) -> None:
    from evergreen.alerts import raise_alerts
    from evergreen.store.runs import list_runs

    raise_alerts(trained_project)  # v1's promotion: alert 1 (info)
    app = dashboard_app(trained_project)
    with TestClient(app) as c:
        csrf = login(c, OPERATOR_TOKEN)
        r = c.post("/alerts/1/retrain", data={"comment": "fresh labels arrived", "csrf_token": csrf})
        assert r.status_code == 200 and "started in the background" in r.text
        for thread in app.state.background_retrains.threads:
            thread.join()
    newest = list_runs(trained_project.store, limit=1)[0]
    assert (newest["actor"], newest["reason"], newest["trigger"]) == (
        "dashboard:otto",
        "alert 1: fresh labels arrived",
        "manual",
    )
    actions = [
        (a["action"], a["target"]) for a in list_actions(trained_project.store, actor="dashboard:otto")
    ]
    assert actions == [("alert_retrain", "alert:1"), ("retrain_requested", "retrain")]  # newest first
