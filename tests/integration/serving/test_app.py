"""The API as a client sees it, on a real uvicorn server: predictions, errors, service endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.serving import RECORD, count_predictions, live, stored_ids

JSON = {"content-type": "application/json"}


def test_predict_one_and_many_validation_and_logging(make_app: Any, trained_project: Any) -> None:
    app = make_app(max_batch_records=3, max_body_bytes=4096)
    with live(app) as srv, srv.client() as c:
        one = c.post("/predict", json={"record": RECORD})
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["model_version"] == "1" and body["predictions"][0] in ("no", "yes")
        assert set(body["probabilities"][0]) == {"no", "yes"}
        assert abs(sum(body["probabilities"][0].values()) - 1.0) < 1e-6
        many = c.post("/predict", json={"records": [RECORD, {**RECORD, "tenure": None}, RECORD]}).json()
        assert len(many["predictions"]) == 3 and len(set(many["prediction_ids"])) == 3
        ids = body["prediction_ids"] + many["prediction_ids"]

        bad = {
            "missing": (
                c.post("/predict", json={"record": {k: v for k, v in RECORD.items() if k != "plan"}}),
                422,
                "plan",
            ),
            "mistyped": (
                c.post("/predict", json={"records": [RECORD, {**RECORD, "tenure": "long"}]}),
                422,
                "tenure",
            ),
            "unknown": (c.post("/predict", json={"record": {**RECORD, "colour": "red"}}), 422, "colour"),
            "too many": (c.post("/predict", json={"records": [RECORD] * 4}), 422, "records"),
            "not json": (
                c.post("/predict", content=b'{"record": {', headers={"content-type": "application/json"}),
                400,
                None,
            ),
            "wrong shape": (c.post("/predict", json=[RECORD]), 422, "(body)"),
            "huge": (c.post("/predict", content=b"{" + b" " * 10_000 + b"}", headers=JSON), 413, None),
        }
        for name, (resp, status, field) in bad.items():
            assert resp.status_code == status, (name, resp.text)
            err = resp.json()["error"]
            assert err["code"] and err["message"], name
            if field:
                assert err["details"]["field"] == field, (name, err)
                if field not in ("records", "(body)"):
                    assert repr(field) in err["message"], (name, err)
        assert c.get("/nowhere").json()["error"]["code"] == "not_found"
        assert c.get("/predict").status_code == 405
    assert stored_ids(trained_project.store) == set(
        ids
    )  # graceful stop flushed the log; no bad request logged


def test_chunked_body_over_the_limit_is_refused(make_app: Any) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 1024

    with live(make_app(max_body_bytes=4096)) as srv, srv.client() as c:
        resp = c.post("/predict", content=chunks(), headers={"content-type": "application/json"})
        assert resp.status_code == 413
        assert resp.json()["error"]["details"] == {"max_body_bytes": 4096}


def test_extra_fields_can_be_ignored(make_app: Any, trained_project: Any) -> None:
    with live(make_app(extra_fields="ignore")) as srv, srv.client() as c:
        resp = c.post("/predict", json={"record": {**RECORD, "colour": "red", "customer_id": "C1"}})
        assert resp.status_code == 200, resp.text
    from sqlalchemy import select

    from evergreen.store.tables import predictions

    with trained_project.store.connect() as conn:
        logged = conn.execute(select(predictions.c.record)).scalar_one()
    # The id column is kept for joins, hashed as ingest hashes it (data.pii.hash): never the raw value.
    from evergreen.data.pii import hash_value

    salt = __import__("os").environ["EVERGREEN_PII_SALT"]
    assert "colour" not in logged and logged["customer_id"] == hash_value("C1", salt)


def test_service_endpoints_and_metrics(make_app: Any) -> None:
    app = make_app()
    with live(app, ready=False) as srv, srv.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
        srv.wait_ready()
        assert c.get("/ready").json() == {
            "status": "ready",
            "model_version": "1",
            "prediction_log": "ok",
            "champion_alias": "1",
        }
        version = c.get("/version").json()
        assert version["model_version"] == "1" and version["package"]
        assert [f["name"] for f in version["schema"]][:2] == ["tenure", "monthly_fee"]

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=srv.url, timeout=30) as ac:
                resps = await asyncio.gather(
                    *(ac.post("/predict", json={"record": RECORD}) for _ in range(40))
                )
            return [r.status_code for r in resps]

        assert asyncio.run(burst()) == [200] * 40
        c.post("/predict", json={"record": {}})
        text = c.get("/metrics").text
    for needle in [
        'serving_requests_total{method="POST",route="/predict",status="200"} 40.0',
        'serving_requests_total{method="POST",route="/predict",status="422"} 1.0',
        'serving_request_duration_seconds_bucket{le="0.001",method="POST",route="/predict"',
        'serving_predictions_total{model_version="1",predicted_class=',
        "serving_batch_size_count",
        "serving_log_queue_depth",
        "serving_swaps_total 1.0",
        "serving_swap_failures_total",
        "serving_feedback_total",
        'serving_champion_info{version="1"}',
    ]:
        assert needle in text, needle
    sizes = [line for line in text.splitlines() if line.startswith("serving_batch_size_bucket")]
    # 40 concurrent requests were answered by fewer model calls: some batch held more than one record.
    one = next(float(line.split()[-1]) for line in sizes if 'le="1.0"' in line)
    count = next(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("serving_batch_size_count")
    )
    assert one < count


def test_not_ready_until_a_champion_exists(churn_project: Any) -> None:
    from evergreen.serving.app import create_app

    with live(create_app(churn_project.settings, churn_project), ready=False) as srv, srv.client() as c:
        ready = c.get("/ready")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
        resp = c.post("/predict", json={"record": RECORD})
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "not_ready"
        assert c.get("/health").status_code == 200
    assert count_predictions(churn_project.store) == 0
