"""Hostile requests against a real server: every one is a 4xx naming the problem, never a 5xx; and a
prediction log that can write nowhere still lets /predict answer and /feedback answer at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.serving import RECORD, LiveServer, live

DEEP = b"[" * 50_000 + b"]" * 50_000


def _raw(**fields: str) -> bytes:
    """A /predict body whose record has the given fields as raw JSON text (keys and values)."""
    base = {k: json.dumps(v) for k, v in RECORD.items()}
    base.update(fields)
    inner = ", ".join(f"{json.dumps(k) if not k.startswith('RAW:') else k[4:]}: {v}" for k, v in base.items())
    return ("{" + f'"record": {{{inner}}}' + "}").encode()


def _cases() -> list[tuple[str, str, bytes, int, str, str | None]]:
    """(name, path, body, status, code, field named in details)."""
    return [
        ("deep body", "/predict", DEEP, 400, "json_too_deep", None),
        ("deep field", "/predict", _raw(tenure=(DEEP.decode())), 400, "json_too_deep", None),
        ("400-digit int", "/predict", _raw(tenure="9" * 400), 422, "invalid_record", "tenure"),
        ("5000-digit int", "/predict", _raw(tenure="9" * 5000), 400, "malformed_json", None),
        ("1e400", "/predict", _raw(monthly_fee="1e400"), 422, "invalid_record", "monthly_fee"),
        ("NaN literal", "/predict", _raw(tenure="NaN"), 400, "malformed_json", None),
        (
            "long string",
            "/predict",
            _raw(last_ticket=json.dumps("x" * 20_000)),
            422,
            "invalid_record",
            "last_ticket",
        ),
        ("NUL in text", "/predict", _raw(last_ticket='"a\\u0000b"'), 422, "invalid_record", "last_ticket"),
        ("lone surrogate", "/predict", _raw(last_ticket='"\\ud800"'), 422, "invalid_record", "last_ticket"),
        ("surrogate name", "/predict", _raw(**{'RAW:"\\udc00x"': "1"}), 422, "invalid_record", "\\udc00x"),
        ("RTL name", "/predict", _raw(**{"\u202eevil": "1"}), 422, "invalid_record", "\\u202eevil"),
        ("NUL name", "/predict", _raw(**{'RAW:"a\\u0000"': "1"}), 422, "invalid_record", "a\\x00"),
        ("huge name", "/predict", _raw(**{"k" * 50_000: "1"}), 422, "invalid_record", "k" * 80 + "…"),
        ("duplicate key", "/predict", _raw(**{'RAW:"tenure"': "5"}), 400, "duplicate_key", "tenure"),
        ("NaN id", "/predict", _raw(customer_id="NaN"), 400, "malformed_json", None),
        ("object id", "/predict", _raw(customer_id='{"a": 1}'), 422, "invalid_record", "customer_id"),
        (
            "long id",
            "/predict",
            _raw(customer_id=json.dumps("c" * 300)),
            422,
            "invalid_record",
            "customer_id",
        ),
        ("bool time", "/predict", _raw(event_time="true"), 422, "invalid_record", "event_time"),
        ("bad time", "/predict", _raw(event_time='"not a time"'), 422, "invalid_record", "event_time"),
        ("epoch 1e12", "/predict", _raw(event_time="1e12"), 422, "invalid_record", "event_time"),
        ("feedback deep", "/feedback", DEEP, 400, "json_too_deep", None),
        (
            "feedback duplicate",
            "/feedback",
            b'{"prediction_id": "a", "label": "yes", "label": "no"}',
            400,
            "duplicate_key",
            "label",
        ),
        (
            "feedback NaN label",
            "/feedback",
            b'{"prediction_id": "a", "label": NaN}',
            400,
            "malformed_json",
            None,
        ),
        (
            "feedback NUL id",
            "/feedback",
            b'{"prediction_id": "a\\u0000b", "label": "yes"}',
            422,
            "invalid_request",
            "prediction_id",
        ),
        (
            "feedback surrogate id",
            "/feedback",
            b'{"prediction_id": "\\ud800", "label": "yes"}',
            422,
            "invalid_request",
            "prediction_id",
        ),
        (
            "feedback long id",
            "/feedback",
            json.dumps({"prediction_id": "p" * 5000, "label": "yes"}).encode(),
            422,
            "invalid_request",
            "prediction_id",
        ),
        (
            "feedback long label",
            "/feedback",
            json.dumps({"prediction_id": "a", "label": "y" * 50_000}).encode(),
            422,
            "invalid_label",
            "label",
        ),
        (
            "feedback typo",
            "/feedback",
            b'{"prediction_id": "a", "label": "yes", "labls": "no"}',
            422,
            "invalid_request",
            "labls",
        ),
        (
            "feedback two forms",
            "/feedback",
            json.dumps({"feedback": [{"prediction_id": "a", "label": "yes"}], "records": [RECORD]}).encode(),
            422,
            "invalid_request",
            "records",
        ),
        ("predict extra key", "/predict", b'{"record": {}, "recods": []}', 422, "invalid_request", "recods"),
        (
            "feedback huge int",
            "/feedback",
            json.dumps({"records": [{**RECORD, "churned": "yes"}]}).replace("13.0", "9" * 400).encode(),
            422,
            "invalid_record",
            "tenure",
        ),
    ]


def test_hostile_requests_get_a_4xx_naming_the_problem(make_app: Any) -> None:
    with live(make_app()) as srv, srv.client() as c:
        for name, path, body, status, code, field in _cases():
            resp = c.post(path, content=body, headers={"content-type": "application/json"})
            assert resp.status_code == status, (name, resp.status_code, resp.text[:300])
            err = resp.json()["error"]
            assert err["code"] == code, (name, err)
            if field is not None:
                assert (err["details"] or {}).get("field") == field, (name, err)
        # The server is unharmed: a good record still gets an answer.
        assert c.post("/predict", json={"record": RECORD}).status_code == 200
        # Of the hostile requests: /ready may have answered 503 while the model loaded (wait_ready
        # polls it until 200, and a loaded machine sees that); that is no answer to bad input.
        statuses = srv.ctx.metrics.requests.collect()[0].samples
        posted = [s for s in statuses if s.labels.get("route") in ("/predict", "/feedback")]
        assert {s.labels["route"] for s in posted} == {"/predict", "/feedback"}
        assert not [s for s in posted if s.labels["status"].startswith("5")]


def test_a_log_that_can_write_nowhere_never_fails_predict_nor_stalls_feedback(
    make_app: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file: no spill can be created under it")
    # A queue of one record: every request overflows into the spill, which the disk refuses.
    app = make_app(log_queue_size=1, spill_path=blocker / "spill.jsonl")
    with live(app) as srv, srv.client() as c:
        ids: list[str] = []
        for _ in range(5):
            resp = c.post("/predict", json={"records": [RECORD, RECORD]})
            assert resp.status_code == 200, resp.text
            ids += resp.json()["prediction_ids"]
        ready = c.get("/ready")
        assert ready.status_code == 200 and ready.json()["prediction_log"] == "degraded"
        assert srv.ctx.metrics.log_dropped._value.get() == 10
        # A lost record is not waited for (the log forgot it): an immediate 404, not a 10 s wait.
        assert not srv.ctx.log.unwritten(ids[-1])
        resp = c.post("/feedback", json={"prediction_id": ids[-1], "label": "yes"})
        assert resp.status_code == 404, resp.text
        metrics = c.get("/metrics").text
        assert "serving_log_dropped_total 10.0" in metrics


def _statuses(srv: Any, route: str) -> list[str]:
    """The status labels of the requests counted for ``route``."""
    samples = srv.ctx.metrics.requests.collect()[0].samples
    return [
        s.labels["status"]
        for s in samples
        if s.name.endswith("_total") and s.labels.get("route") == route and s.value
    ]


def test_a_client_that_disconnects_mid_body_is_a_400_not_a_500(make_app: Any) -> None:
    import socket

    from tests.support.serving import wait_until

    with live(make_app()) as srv:
        for path in ("/predict", "/feedback"):
            # Content-Length promises 1000 bytes; 20 are sent and the connection closes.
            with socket.create_connection(("127.0.0.1", srv.port)) as sock:
                sock.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: 1000\r\n\r\n".encode()
                    + b'{"record": {"tenure"'
                )
            wait_until(lambda path=path: _statuses(srv, path), f"the cut request to {path} to be counted")
            assert _statuses(srv, path) == ["400"], path
        with srv.client() as c:  # the server is unharmed
            assert c.post("/predict", json={"record": RECORD}).status_code == 200


def test_metrics_label_control_api_requests_with_the_whole_route_template(make_app: Any) -> None:
    with live(make_app()) as srv, srv.client() as c:
        # Refused or not (no token here), each request is counted under its route's template.
        for path in ("/api/drift", "/api/runs/run-1", "/api/runs/run-2"):
            c.get(path)
        c.post("/api/alerts/7/resolve", json={})
        c.get("/api/no-such-thing")
        samples = srv.ctx.metrics.requests.collect()[0].samples
        routes = {s.labels["route"] for s in samples if s.name.endswith("_total")}
    assert {"/api/drift", "/api/runs/{run_id}", "/api/alerts/{alert_id}/resolve", "unmatched"} <= routes
    assert not routes & {"/drift", "/runs/{run_id}", "/alerts/{alert_id}/resolve"}
    assert not [r for r in routes if "run-1" in r or "no-such-thing" in r]  # no raw path as a label


def test_a_compressed_body_is_a_415_naming_content_encoding(make_app: Any) -> None:
    import gzip

    plain = json.dumps({"record": RECORD}).encode()
    with live(make_app()) as srv, srv.client() as c:
        for path, encoding, body in (
            ("/predict", "gzip", gzip.compress(plain)),
            ("/predict", "br", plain),  # a coding the body does not even have: still not read as plain
            ("/feedback", "deflate", plain),
            ("/api/retrain", "gzip", gzip.compress(b"{}")),
        ):
            headers = {"content-type": "application/json", "content-encoding": encoding}
            resp = c.post(path, content=body, headers=headers)
            assert resp.status_code == 415, (path, encoding, resp.text[:300])
            err = resp.json()["error"]
            assert err["code"] == "unsupported_media_type" and err["details"]["field"] == "Content-Encoding"
            assert encoding in err["message"]
        identity = {"content-type": "application/json", "content-encoding": "identity"}
        assert c.post("/predict", content=plain, headers=identity).status_code == 200


def test_a_feedback_record_with_a_bad_event_time_does_not_block_the_others(trained_project: Any) -> None:
    import pandas as pd
    from sqlalchemy import select

    from evergreen.serving.feedback import FeedbackItem, store_feedback
    from evergreen.serving.feedback_batches import assemble_feedback_batch
    from evergreen.store.tables import feedback

    p = trained_project
    records = [
        {**RECORD, "customer_id": "ok-text", "event_time": "2026-01-02T00:00:00Z"},
        {**RECORD, "customer_id": "bad", "event_time": "not a time"},
        {**RECORD, "customer_id": "ok-epoch", "event_time": 1767398400},  # 2026-01-03, epoch seconds
        {**RECORD, "customer_id": "ok-none"},
    ]
    store_feedback(p.store, [FeedbackItem("no", record=r) for r in records])
    result = assemble_feedback_batch(p.settings, p.store, min_rows=1)
    assert result is not None and result.status == "accepted", result
    assert result.rows == 3
    snap = pd.read_parquet(result.path).set_index("customer_id")
    assert set(snap.index) == {"ok-text", "ok-epoch", "ok-none"}
    # A number is epoch seconds, as ingest reads it (not nanoseconds since 1970).
    assert snap.loc["ok-epoch", "event_time"] == pd.Timestamp("2026-01-03", tz="UTC")
    with p.store.connect() as conn:
        marks = {r.record["customer_id"]: r.batch_id for r in conn.execute(select(feedback))}
    # The bad record is set aside (kept in the feedback table, out of every batch), not retried for ever.
    good = {"ok-text", "ok-epoch", "ok-none"}
    assert marks == {**dict.fromkeys(good, result.batch_id), "bad": 0}
    assert assemble_feedback_batch(p.settings, p.store, min_rows=1) is None


def test_a_huge_integer_in_a_double_field_is_logged_as_a_float(make_app: Any, trained_project: Any) -> None:
    from sqlalchemy import select

    from evergreen.serving.feedback_batches import assemble_feedback_batch
    from evergreen.store.tables import predictions

    p = trained_project
    with live(make_app()) as srv, srv.client() as c:
        # json.dumps writes 2**80 as an integer literal; the signature says tenure is a double.
        resp = c.post("/predict", json={"record": {**RECORD, "tenure": 2**80}})
        assert resp.status_code == 200, resp.text
        [pid] = resp.json()["prediction_ids"]
        assert c.post("/feedback", json={"prediction_id": pid, "label": "yes"}).status_code == 200
    with p.store.connect() as conn:
        record = conn.execute(select(predictions.c.record).where(predictions.c.id == pid)).scalar_one()
    assert isinstance(record["tenure"], float) and record["tenure"] == float(2**80)
    # The logged record becomes a training row: a 2**80 integer could not be written to the batch file.
    result = assemble_feedback_batch(p.settings, p.store, min_rows=1)
    assert result is not None and result.rows == 1, result


def test_record_ids_mixing_numbers_and_strings_are_joined_as_canonical_strings(
    make_app: Any, trained_project: Any
) -> None:
    import pandas as pd

    from evergreen.serving.app import create_app
    from evergreen.serving.feedback_batches import assemble_feedback_batch

    p = trained_project
    # Ids kept as sent (the example hashes them, and a hash is of the id's canonical string already).
    data = p.settings.data
    settings = p.settings.model_copy(
        update={"data": data.model_copy(update={"pii": data.pii.model_copy(update={"hash": []})})}
    )
    with live(create_app(settings, p)) as srv, srv.client() as c:
        sent = [{**RECORD, "customer_id": cid} for cid in (1, "a", 7.0)]
        resp = c.post("/predict", json={"records": sent})
        assert resp.status_code == 200, resp.text
        labels = [{"prediction_id": pid, "label": "yes"} for pid in resp.json()["prediction_ids"]]
        assert c.post("/feedback", json={"feedback": labels}).status_code == 200
        labelled = [{**RECORD, "customer_id": cid, "churned": "no"} for cid in (12, "b")]
        assert c.post("/feedback", json={"records": labelled}).status_code == 200
    result = assemble_feedback_batch(settings, p.store, min_rows=1)
    assert result is not None and result.status == "accepted", result
    ids = pd.read_parquet(result.path)["customer_id"].tolist()
    assert sorted(ids) == ["1", "12", "7", "a", "b"]  # 7.0 is the "7" ingest makes of it


def test_a_latin1_body_is_a_400_saying_the_body_is_not_utf8(make_app: Any) -> None:
    predict = json.dumps({"record": {**RECORD, "last_ticket": "merci, très rapide"}}, ensure_ascii=False)
    feedback = '{"prediction_id": "a", "label": "oui, très"}'
    with live(make_app()) as srv, srv.client() as c:
        for path, text in (("/predict", predict), ("/feedback", feedback)):
            resp = c.post(path, content=text.encode("latin-1"), headers={"content-type": "application/json"})
            assert resp.status_code == 400, (path, resp.text)
            err = resp.json()["error"]
            assert err["code"] == "malformed_json" and err["details"] == {"field": "(body)"}, (path, err)
            assert "not UTF-8" in err["message"], (path, err)
            assert "Unicode" not in resp.text and "codec" not in resp.text, (path, err)


def test_a_request_cut_off_without_an_answer_is_counted_499_not_500(make_app: Any) -> None:
    import socket

    from tests.support.serving import wait_until

    srv = LiveServer(make_app()).start()
    srv.wait_ready()
    try:
        # The body never ends: /predict waits for it until the server stops and cancels the request.
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"record": '
            )
            wait_until(lambda: srv.ctx.batcher.arriving == 1, "the request to reach /predict")
            srv.server.config.timeout_graceful_shutdown = 1  # then uvicorn cancels what still runs
            srv.stop()
    finally:
        if srv.thread.is_alive():
            srv.stop()
    # Nobody was answered: not a server error (EvergreenServingErrors counts 5xx), nginx's 499.
    assert _statuses(srv, "/predict") == ["499"]


def _batch_marks(store: Any) -> dict[str, int | None]:
    """customer_id of each feedback row's record (or of its logged prediction) → its batch id."""
    from sqlalchemy import select

    from evergreen.store.tables import feedback, predictions

    q = select(feedback.c.batch_id, feedback.c.record, predictions.c.record.label("logged")).select_from(
        feedback.outerjoin(predictions, predictions.c.id == feedback.c.prediction_id)
    )
    with store.connect() as conn:
        return {(r.record or r.logged)["customer_id"]: r.batch_id for r in conn.execute(q)}


def test_feedback_records_the_contract_refuses_are_set_aside_and_the_others_ingested(
    trained_project: Any,
) -> None:
    import pandas as pd

    from evergreen.serving.feedback import FeedbackItem, store_feedback
    from evergreen.serving.feedback_batches import SET_ASIDE_BATCH, assemble_feedback_batch

    p = trained_project
    # Records logged under an older model, whose types the data contract no longer takes.
    records = [
        {**RECORD, "customer_id": "ok-1"},
        {**RECORD, "customer_id": "text-tenure", "tenure": "long"},
        {**RECORD, "customer_id": "nested-plan", "plan": {"name": "standard"}},
        {**RECORD, "customer_id": "inf-fee", "monthly_fee": float("inf")},
        {**RECORD, "customer_id": "ok-2", "tenure": 7},
    ]
    store_feedback(p.store, [FeedbackItem("no", record=r) for r in records])
    result = assemble_feedback_batch(p.settings, p.store, min_rows=1)
    assert result is not None and result.status == "accepted", result
    assert result.rows == 2
    snap = pd.read_parquet(result.path).set_index("customer_id")
    assert set(snap.index) == {"ok-1", "ok-2"}
    assert snap.loc["ok-2", "tenure"] == 7.0
    aside = dict.fromkeys(("text-tenure", "nested-plan", "inf-fee"), SET_ASIDE_BATCH)
    assert _batch_marks(p.store) == {**dict.fromkeys(("ok-1", "ok-2"), result.batch_id), **aside}
    assert assemble_feedback_batch(p.settings, p.store, min_rows=1) is None  # nothing left, none retried


def test_a_25_digit_integer_logged_before_795232c_does_not_stop_every_feedback_batch(
    trained_project: Any,
) -> None:
    import pandas as pd
    from sqlalchemy import insert

    from evergreen.serving.feedback import FeedbackItem, store_feedback
    from evergreen.serving.feedback_batches import assemble_feedback_batch
    from evergreen.store.engine import utcnow
    from evergreen.store.tables import predictions

    p = trained_project
    logged = {
        "old-huge": {**RECORD, "customer_id": "old-huge", "tenure": 2**80},  # as it was logged then
        "huge-id": {**RECORD, "customer_id": 2**80},
        "old-ok": {**RECORD, "customer_id": "old-ok"},
    }
    rows = [
        {"id": pid, "project": p.store.project, "created_at": utcnow(), "model_version": "1", "record": rec}
        for pid, rec in logged.items()
    ]
    with p.store.begin() as conn:
        conn.execute(insert(predictions), rows)
    store_feedback(p.store, [FeedbackItem("yes", prediction_id=pid) for pid in logged])
    # It failed every round (the batch file could not hold the integer), and so every label after it.
    result = assemble_feedback_batch(p.settings, p.store, min_rows=1)
    assert result is not None and result.status == "accepted", result
    snap = pd.read_parquet(result.path).set_index("customer_id")
    # Ingested as ingest reads a number in a numeric column (a float) and an id (its canonical text).
    assert snap.loc["old-huge", "tenure"] == float(2**80)
    assert set(snap.index) == {"old-huge", str(2**80), "old-ok"}
    assert assemble_feedback_batch(p.settings, p.store, min_rows=1) is None
