"""A drift report row edited by hand into shapes the monitoring job never writes: the pages show what
can be read and mark the rest "details unreadable", never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from evergreen.store.engine import utcnow
from evergreen.store.tables import drift_reports
from tests.support.dashboard import VIEWER_TOKEN, dashboard_app, login

GOOD = {
    "data_drift": {
        "share": 0.25,
        "drift_share": 0.5,
        "columns": {"tenure": {"method": "ks", "score": 0.03, "p_value": 0.03, "threshold": 0.05}},
    },
    "performance": {"realised_metrics": {"f1_macro": 0.81}, "metric_bands": {}, "baseline_metrics": {}},
}
MALFORMED: list[Any] = [
    "not an object",
    [1, 2, 3],
    {"data_drift": "oops", "performance": 7},
    {"data_drift": {"share": "a lot", "columns": ["tenure"]}},
    {"data_drift": {"columns": {"tenure": "ks 0.1", "plan": {"score": "high", "method": ["ks"]}}}},
    {"performance": {"realised_metrics": [0.9], "metric_bands": {"f1_macro": "wide"}}},
    {"performance": {"realised_metrics": {"f1_macro": 0.7}, "metric_bands": {"f1_macro": {"realised": 3}}}},
    {"performance": {"baseline_metrics": {"f1_macro": {"x": 1}}, "estimated_metrics": {"f1_macro": "0.8"}}},
]


def test_malformed_details_are_marked_unreadable_and_the_pages_still_render(churn_project: Any) -> None:
    store = churn_project.store
    now = utcnow()
    rows = [GOOD, *MALFORMED]
    with store.engine.begin() as conn:
        for i, details in enumerate(rows):
            conn.execute(
                insert(drift_reports).values(
                    project=store.project,
                    report_date=now - timedelta(days=len(rows) - i),
                    window="7d",
                    prediction_drift_score=0.1 * (i + 1),
                    drift_detected=False,
                    details=details,
                )
            )
    with TestClient(dashboard_app(churn_project), raise_server_exceptions=False) as c:
        login(c, VIEWER_TOKEN)
        r = c.get("/monitoring")
        assert r.status_code == 200, r.text[-2000:]
        # Every malformed row is marked, the good one is not; what can be read is charted.
        assert r.text.count("details unreadable") >= len(MALFORMED)
        assert "Share of drifted columns" in r.text and "0.2500" in r.text
        assert "Prediction drift score" in r.text
        assert "f1_macro: realised vs estimated" in r.text and "0.8100" in r.text and "0.7000" in r.text
        # The overview reads the newest report: the last malformed one.
        r = c.get("/")
        assert r.status_code == 200, r.text[-2000:]
        assert "details unreadable" in r.text
