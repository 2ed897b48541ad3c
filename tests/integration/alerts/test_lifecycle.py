"""Drift injected until each level is crossed, against real receivers, on SQLite and PostgreSQL.

One alert per condition, updated rather than duplicated; each event sent to the channels at or
above their ``min_level`` (exact payloads checked); resolved when the drift goes away.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from evergreen.alerts import Facts
from evergreen.alerts.repository import gather_drift, list_alerts, list_deliveries
from evergreen.alerts.service import AlertService
from evergreen.monitoring import multivariate_drift
from evergreen.store.audit import list_actions
from evergreen.store.tables import alerts
from tests.support.alerts import add_report, make_project


def test_drift_levels_one_alert_escalated_sent_by_level_then_resolved(
    tmp_path: Path, database_url: str, http_receiver, smtp_server
) -> None:
    project = make_project(
        tmp_path / "p",
        database_url,
        channels=[
            {"type": "webhook", "name": "hook", "url": http_receiver.url("/hook"), "min_level": "warning"},
            {
                "type": "slack",
                "name": "slack",
                "url": http_receiver.url("/slack/T0/B0/xyz"),
                "min_level": "alert",
            },
            {
                "type": "email",
                "name": "mail",
                "smtp": f"smtp://127.0.0.1:{smtp_server.port}",
                "to": ["team@example.com"],
                "min_level": "critical",
                "sender": "evergreen@example.com",
            },
        ],
    )
    svc = AlertService(project)
    titles = []
    for n, score in enumerate((0.05, 0.15, 0.16, 0.25, 0.35, 0.02)):
        add_report(project, score, n=n)
        svc.raise_alerts(Facts(drift=gather_drift(project.store)))
        assert svc.flush(30)
        rows = list_alerts(project.store)
        titles.append([(r["level"], r["status"]) for r in rows])

    # One row for the condition the whole time: opened at 0.15, updated, escalated, resolved.
    assert titles == [
        [],
        [("warning", "open")],
        [("warning", "open")],
        [("alert", "open")],
        [("critical", "open")],
        [("critical", "resolved")],
    ]
    with project.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar() == 1
    (alert,) = list_alerts(project.store)
    assert alert["fingerprint"] == "drift:data_drift_score:7d"
    assert alert["resolved_by"] == "system" and alert["seen_count"] == 4

    hooks = http_receiver.bodies("/hook")
    assert [(b["event"], b["alert"]["level"]) for b in hooks] == [
        ("opened", "warning"),
        ("escalated", "alert"),
        ("escalated", "critical"),
        ("resolved", "critical"),
    ]
    assert hooks[0] == {
        "source": "evergreen",
        "project": "churn",
        "event": "opened",
        "link": f"http://127.0.0.1:8123/alerts?alert={alert['id']}#alert-{alert['id']}",
        "alert": {
            "id": alert["id"],
            "fingerprint": "drift:data_drift_score:7d",
            "kind": "drift",
            "level": "warning",
            "status": "open",
            "title": "data drift score 0.150 is at or above the warning level 0.1 (window 7d)",
            "opened_at": hooks[0]["alert"]["opened_at"],
            "updated_at": hooks[0]["alert"]["updated_at"],
            "details": {
                "score_name": "data_drift_score",
                "score": 0.15,
                "threshold": 0.1,
                "levels": {"warning": 0.1, "alert": 0.2, "critical": 0.3},
                "window": "7d",
                "report_id": hooks[0]["alert"]["details"]["report_id"],
                "report_date": hooks[0]["alert"]["details"]["report_date"],
                "model_version": "1",
                "drifted_columns": ["tenure"],
            },
        },
    }
    slack = http_receiver.bodies("/slack/T0/B0/xyz")
    assert [b["text"] for b in slack] == [
        "[ALERT] churn: data drift score 0.250 is at or above the alert level 0.2 (window 7d)",
        "[CRITICAL] churn: data drift score 0.350 is at or above the critical level 0.3 (window 7d)",
        "[RESOLVED] churn: data drift score 0.350 is at or above the critical level 0.3 (window 7d)",
    ]
    link = f"http://127.0.0.1:8123/alerts?alert={alert['id']}#alert-{alert['id']}"
    assert slack[1]["blocks"][2]["elements"][0]["text"] == (
        f"alert #{alert['id']} · escalated · <{link}|open in the dashboard>"
    )
    critical = "data drift score 0.350 is at or above the critical level 0.3 (window 7d)"
    assert [(m[0], m[1], m[2]["Subject"]) for m in smtp_server.messages] == [
        (
            "evergreen@example.com",
            ["team@example.com"],
            f"[evergreen] [CRITICAL] churn: {critical}",
        ),
        (
            "evergreen@example.com",
            ["team@example.com"],
            f"[evergreen] [RESOLVED] churn: {critical}",
        ),
    ]
    assert (
        f"dashboard: http://127.0.0.1:8123/alerts?alert={alert['id']}#alert-{alert['id']}"
        in smtp_server.messages[0][2].get_content()
    )

    sent = [(d["channel"], d["event"], d["status"]) for d in list_deliveries(project.store, alert["id"])]
    assert sorted(sent) == sorted(
        [("log", e, "sent") for e in ("opened", "escalated", "escalated", "resolved")]
        + [("hook", e, "sent") for e in ("opened", "escalated", "escalated", "resolved")]
        + [("slack", e, "sent") for e in ("escalated", "escalated", "resolved")]
        + [("mail", e, "sent") for e in ("escalated", "resolved")]
    )
    actions = [a["action"] for a in list_actions(project.store, target=f"alert:{alert['id']}")]
    assert actions == ["alert_resolved", "alert_escalated", "alert_escalated", "alert_opened"]
    svc.close()


def test_repeat_interval_ack_silences_and_new_condition_after_resolve(tmp_path: Path, http_receiver) -> None:
    from datetime import timedelta

    from evergreen.store.engine import utcnow

    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        repeat_interval_minutes=60,
        channels=[{"type": "webhook", "url": http_receiver.url("/h"), "min_level": "warning"}],
    )
    svc = AlertService(project)
    t0 = utcnow()
    add_report(project, 0.15)
    facts = Facts(drift=gather_drift(project.store))
    svc.raise_alerts(facts, now=t0)
    assert svc.flush(30)  # its delivery record marks it sent (at t0), which the interval counts from
    svc.raise_alerts(facts, now=t0 + timedelta(minutes=30))  # inside the interval: silent
    svc.raise_alerts(facts, now=t0 + timedelta(minutes=61))  # repeated
    (alert,) = list_alerts(project.store)
    svc.acknowledge(alert["id"], actor="cli:ann", reason="looking")
    svc.raise_alerts(facts, now=t0 + timedelta(minutes=200))  # acknowledged: no repeat
    assert svc.flush(30)
    assert [b["event"] for b in http_receiver.bodies("/h")] == ["opened", "repeated"]
    svc.resolve(alert["id"], actor="cli:ann", reason="fixed upstream")
    svc.raise_alerts(facts, now=t0 + timedelta(minutes=201))  # still drifting: a new alert
    assert svc.flush(30)
    assert [(r["status"], r["resolved_by"]) for r in list_alerts(project.store)] == [
        ("open", None),
        ("resolved", "cli:ann"),
    ]
    assert [b["event"] for b in http_receiver.bodies("/h")] == ["opened", "repeated", "resolved", "opened"]
    svc.close()


def _pair(n: int, rho: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "noise": rng.uniform(size=n)})


def test_inputs_that_drift_only_together_open_a_warning_and_it_resolves(
    tmp_path: Path, database_url: str, http_receiver
) -> None:
    # Two columns keep their marginals but swap their correlation: no column test sees it, so the
    # data drift share is 0; the domain classifier does. Before, that raised nothing at all.
    project = make_project(
        tmp_path / "p",
        database_url,
        channels=[
            {"type": "webhook", "name": "hook", "url": http_receiver.url("/hook"), "min_level": "warning"}
        ],
    )
    svc = AlertService(project)
    ref = _pair(3000, 0.9, 1)
    for n, current in enumerate((_pair(3000, -0.9, 2), _pair(3000, 0.9, 3))):
        result = multivariate_drift(ref, current)
        details = {"data_drift": {"columns": {}}, "multivariate_drift": result.to_dict()}
        add_report(project, 0.0, n=n, details=details)
        svc.raise_alerts(Facts(drift=gather_drift(project.store)))
        assert svc.flush(30)

    (alert,) = list_alerts(project.store)
    assert (alert["fingerprint"], alert["level"]) == ("drift:multivariate:7d", "warning")
    assert alert["status"] == "resolved"
    hooks = http_receiver.bodies("/hook")
    assert [(b["event"], b["alert"]["level"]) for b in hooks] == [
        ("opened", "warning"),
        ("resolved", "warning"),
    ]
    assert hooks[0]["alert"]["title"].startswith(
        "the inputs drifted as a whole: a classifier tells this window from the reference with ROC AUC 0.941"
    )
    assert "the columns that separate them most: " in hooks[0]["alert"]["title"]
