"""Hostile request bodies are 4xx naming the problem: depth, repeated keys, NaN, huge numbers, odd names."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from evergreen.errors import (
    DuplicateKeyError,
    InvalidRecordError,
    InvalidRequestError,
    JSONTooDeepError,
    MalformedJSONError,
)
from evergreen.serving.payload import display_name, json_answer, parse_json
from evergreen.serving.schema import schema_from_signature, validate_records

SCHEMA = schema_from_signature(
    [
        {"type": "double", "name": "tenure"},
        {"type": "long", "name": "calls"},
        {"type": "string", "name": "ticket"},
    ],
    passthrough=("customer_id", "event_time"),
)
GOOD = {"tenure": 1.5, "calls": 2, "ticket": "hello", "customer_id": "C1", "event_time": "2026-01-01"}


def _problems(record: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRecordError) as info:
        validate_records(SCHEMA, [record], many=False, extra="refuse")
    assert info.value.http_status == 422
    return [(e["field"], e["problem"]) for e in info.value.details["errors"]]


def test_a_50000_deep_body_is_a_400_not_a_crash() -> None:
    for body in (
        b"[" * 50_000 + b"]" * 50_000,
        b'{"record": {"tenure": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
    ):
        with pytest.raises(JSONTooDeepError) as info:
            parse_json(body)
        assert info.value.http_status == 400 and info.value.code == "json_too_deep"


def test_a_repeated_key_is_a_400_naming_the_key() -> None:
    with pytest.raises(DuplicateKeyError) as info:
        parse_json(b'{"record": {"tenure": 1, "calls": 2, "tenure": 3}}')
    assert info.value.details == {"field": "tenure"} and "'tenure'" in info.value.message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_a_400(literal: str) -> None:
    with pytest.raises(MalformedJSONError, match=literal):
        parse_json(f'{{"record": {{"tenure": {literal}}}}}'.encode())


def test_an_integer_of_5000_digits_is_a_400() -> None:
    with pytest.raises(MalformedJSONError, match="not valid JSON"):
        parse_json(b'{"record": {"calls": ' + b"9" * 5000 + b"}}")


def test_huge_numbers_are_refused_for_their_column() -> None:
    big = int("9" * 400)
    assert _problems({**GOOD, "calls": big}) == [("calls", "out_of_range")]
    assert _problems({**GOOD, "calls": 2**63}) == [("calls", "out_of_range")]
    assert _problems({**GOOD, "calls": 1e300}) == [("calls", "wrong_type")]
    assert _problems({**GOOD, "tenure": big}) == [("tenure", "out_of_range")]
    assert _problems({**GOOD, "tenure": 1e400}) == [("tenure", "wrong_type")]  # json gives inf
    ok = validate_records(
        SCHEMA, [{**GOOD, "calls": 2**63 - 1, "tenure": 10**300}], many=False, extra="refuse"
    )
    assert ok[0]["calls"] == 2**63 - 1


def test_long_strings_nul_and_lone_surrogates_are_refused() -> None:
    assert _problems({**GOOD, "ticket": "x" * 10_001}) == [("ticket", "invalid_text")]
    assert _problems({**GOOD, "ticket": "a\x00b"}) == [("ticket", "invalid_text")]
    assert _problems({**GOOD, "ticket": "\ud800"}) == [("ticket", "invalid_text")]


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), True, {"a": 1}, [1], "x" * 257, "a\x00", 2**64],
)
def test_pass_through_fields_are_typed(value: Any) -> None:
    assert _problems({**GOOD, "customer_id": value}) == [("customer_id", "invalid_passthrough")]
    assert _problems({**GOOD, "event_time": value}) == [("event_time", "invalid_passthrough")]


TIMED = schema_from_signature(
    [{"type": "double", "name": "tenure"}],
    passthrough=("customer_id", "event_time"),
    time_field="event_time",
)


_EDGE = pd.Timestamp.max.value / 1e9  # 9223372036.854776: read as ns it wraps to 1677


@pytest.mark.parametrize(
    "value",
    [
        "not a time",
        "2026-13-45",
        "31/02/2026",
        "Jan 2 2026",  # dateutil would guess it; the README promises ISO 8601 or epoch seconds
        "2024-W01-1",  # an ISO week date: fromisoformat reads it, pandas does not
        "0001-01-01",
        "9999-01-01T00:00",
        1e12,
        -1e11,
        _EDGE,
        -_EDGE,
    ],
)
def test_the_time_field_must_be_iso_8601_or_epoch_seconds(value: Any) -> None:
    """Refused on arrival, naming the field: logged, it would be set aside when its label came back."""
    with pytest.raises(InvalidRecordError) as info:
        validate_records(TIMED, [{"tenure": 1.0, "event_time": value}], many=False, extra="refuse")
    [err] = info.value.details["errors"]
    assert (err["field"], err["problem"]) == ("event_time", "invalid_passthrough")
    assert "must be a time" in err["message"] or "epoch seconds outside" in err["message"]


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("2026-01-02", "2026-01-02T00:00:00Z"),
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
        ("2026-01-02 03:04:05+01:00", "2026-01-02T02:04:05Z"),
        (1767398400, "2026-01-03T00:00:00Z"),
        (1.5, "1970-01-01T00:00:01.5Z"),
        (9223372035, "2262-04-11T23:47:15Z"),  # the last whole second inside pandas' range
    ],
)
def test_the_time_field_takes_what_the_feedback_assembly_reads(value: Any, read: str) -> None:
    from evergreen.serving.feedback_batches import record_time

    [clean] = validate_records(TIMED, [{"tenure": 1.0, "event_time": value}], many=False, extra="refuse")
    assert clean["event_time"] == value  # kept as sent: read again when its label comes back
    assert record_time(value, "event_time") == pd.Timestamp(read)  # and read as the time it says


def test_pass_through_fields_take_strings_finite_numbers_and_null() -> None:
    for value in ("C-001", 12345, 3.5, None):
        assert validate_records(SCHEMA, [{**GOOD, "customer_id": value}], many=False, extra="refuse")


@pytest.mark.parametrize("name", ["\ud800", "te\x00nure", "\u202etenure", "🙂", "k" * 5000, ""])
def test_odd_field_names_are_named_safely(name: str) -> None:
    [(field, problem)] = _problems({**GOOD, name: 1})
    assert problem == "unknown_field"
    assert field == display_name(name)
    field.encode("utf-8")  # renderable in a JSON response
    assert len(field) <= 81 and field.isprintable()


def test_an_answer_with_a_non_finite_number_is_rendered_as_null() -> None:
    resp = json_answer({"predictions": [float("nan"), 1.0]})
    assert json.loads(resp.body) == {"predictions": [None, 1.0]}


def test_a_regression_label_too_large_for_a_float_is_refused() -> None:
    from evergreen.errors import InvalidLabelError
    from evergreen.serving.feedback import normalise_label

    for label in (int("9" * 400), float("nan"), "3"):
        with pytest.raises(InvalidLabelError) as info:
            normalise_label(label, None, "")
        assert len(info.value.message) < 200
    assert normalise_label(2**70, None, "") == 2**70


@pytest.mark.parametrize(
    ("value", "name"), [(None, "null"), ([1], "array"), ("x", "string"), (True, "boolean")]
)
def test_a_record_of_the_wrong_json_type_is_named_by_its_json_type(value: Any, name: str) -> None:
    with pytest.raises(InvalidRecordError) as info:
        validate_records(SCHEMA, [GOOD, value], many=True, extra="refuse")
    assert info.value.message == f"record 1: a record must be a JSON object, got {name}"
    assert "NoneType" not in json.dumps(info.value.details)


def test_a_whole_number_for_a_double_field_is_kept_as_the_float_the_model_sees() -> None:
    sent = {**GOOD, "tenure": 2**80, "calls": 2**62}
    [record] = validate_records(SCHEMA, [sent], many=False, extra="refuse")
    assert type(record["tenure"]) is float and record["tenure"] == float(2**80)
    assert json.loads(json.dumps(record))["tenure"] == float(2**80)
    assert type(record["calls"]) is int  # a long field keeps its integer
    [small] = validate_records(SCHEMA, [{**GOOD, "tenure": 12}], many=False, extra="refuse")
    assert type(small["tenure"]) is int  # an int64 is logged as sent: only what no int64 holds changes


def test_feedback_rows_with_numeric_and_text_ids_get_canonical_string_ids() -> None:
    from datetime import UTC, datetime

    from evergreen.serving.feedback_batches import feedback_frame

    t = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {"id": n, "prediction_id": None, "record": {"x": 1.0, "cid": cid}, "label": "no", "received_at": t}
        for n, cid in enumerate([1, "a", 7.0, None])
    ]
    frame, _ = feedback_frame(rows, target="y", id_column="cid", timestamp_column=None)
    assert frame["cid"].tolist() == ["1", "a", "7", "feedback-3"]


def _asgi_post(
    app: Any, headers: list[tuple[bytes, bytes]], body: bytes = b"{}"
) -> tuple[int, dict[str, Any]]:
    """One POST driven through ``app`` at the ASGI level: (status, JSON body of the answer)."""
    import asyncio

    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers, "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(raw)


# uvicorn (h11 and httptools alike) answers these itself before the app runs; another ASGI server, or
# a proxy speaking ASGI, may not: the app's own check is tested at the ASGI level.
@pytest.mark.parametrize(
    "value", [b"-1", b"-100000", b"abc", b"", b"+5", b"1e3", b"0x10", b"5_0", b"\xd9\xa5"]
)
def test_a_content_length_that_is_not_a_count_of_bytes_is_a_400_naming_it(value: bytes) -> None:
    from evergreen.serving.limits import BodyLimitMiddleware

    reached: list[bytes] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    app = BodyLimitMiddleware(inner, max_bytes=1000)
    status, answer = _asgi_post(app, [(b"content-type", b"application/json"), (b"content-length", value)])
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_header"
    assert answer["error"]["details"]["field"] == "Content-Length"
    assert "Content-Length" in answer["error"]["message"]
    assert reached == []  # the body reader never ran
    ok, _ = _asgi_post(app, [(b"content-length", b" 2 ")])  # a count with surrounding spaces is a count
    assert ok == 200 and reached == [b"{}"]


@pytest.mark.parametrize("body", ['{"plan": "café"}'.encode("latin-1"), b"\xff\xfe\xfd", b'{"a": "\xe9"'])
def test_a_body_that_is_not_utf8_is_a_400_saying_so_without_a_python_exception_name(body: bytes) -> None:
    with pytest.raises(MalformedJSONError) as info:
        parse_json(body)
    assert info.value.http_status == 400
    assert "not UTF-8" in info.value.message and "RFC 8259" in info.value.message
    assert "Unicode" not in info.value.message and "codec" not in info.value.message
    assert info.value.details == {"field": "(body)"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prediction_id": "p1", "labls": "yes", "label": "no"}, "labls"),  # a typo beside the real key
        ({"prediction_id": "p1", "label": "yes", "labelled_by": "me"}, "labelled_by"),
        ({"feedback": [{"prediction_id": "p1", "label": "yes"}], "records": [{"x": 1.0}]}, "records"),
        ({"feedback": [{"prediction_id": "p1", "label": "yes", "lable": "no"}]}, "lable"),
        ({"prediction_id": "p1", "label": "yes", "record": {"x": 1.0, "plan": "a"}}, "record"),
        ({"record": {"x": 1.0, "plan": "a"}, "label": "yes", "labels": ["no"]}, "labels"),
        ({"records": [{"x": 1.0, "plan": "a", "churned": "yes"}], "label": "yes"}, "label"),
        ({"feedbak": [{"prediction_id": "p1", "label": "yes"}]}, "feedbak"),
    ],
)
def test_feedback_refuses_an_unknown_top_level_key_naming_it(body: dict[str, Any], field: str) -> None:
    from evergreen.serving.feedback import parse_feedback
    from evergreen.serving.model import LoadedModel

    model = LoadedModel("1", None, schema_from_signature([{"type": "double", "name": "x"}]), ("no", "yes"))
    with pytest.raises(InvalidRequestError) as info:
        parse_feedback(body, model, "churned", max_items=5, extra="refuse")
    assert info.value.http_status == 422 and info.value.code == "invalid_request"
    assert info.value.details["field"] == field
    assert repr(field) in info.value.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"record": {"x": 1}, "recods": [{"x": 2}]}, "recods"),
        ({"records": [{"x": 1}], "model_version": "3"}, "model_version"),
        ({"recrod": {"x": 1}}, "recrod"),
    ],
)
def test_predict_refuses_an_unknown_top_level_key_naming_it(body: dict[str, Any], field: str) -> None:
    from evergreen.serving.payload import predict_records

    with pytest.raises(InvalidRequestError) as info:
        predict_records(body, max_records=5)
    assert info.value.http_status == 422 and info.value.details["field"] == field
    assert repr(field) in info.value.message


def _counted(inner: Any, *, disconnect: bool = False, cancel: bool = False) -> list[str]:
    """The status labels MetricsMiddleware counts for one request served by ``inner``."""
    import asyncio
    import contextlib

    from evergreen.serving.metrics import MetricsMiddleware, ServingMetrics

    metrics = ServingMetrics()
    app = MetricsMiddleware(inner, metrics)
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": [], "query_string": b""}

    async def receive() -> dict[str, Any]:
        if disconnect:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run() -> None:
        task = asyncio.ensure_future(app(scope, receive, send))
        if cancel:
            await asyncio.sleep(0)  # the request starts and waits
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await task

    asyncio.run(run())
    samples = metrics.requests.collect()[0].samples
    return [s.labels["status"] for s in samples if s.name.endswith("_total") and s.value]


def test_metrics_count_a_request_that_ended_without_an_answer_as_499() -> None:
    import asyncio

    async def answers(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def waits(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    async def reads_then_returns(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the client went away: nothing to answer

    async def fails(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug")  # Starlette's outermost middleware answers it with a 500

    assert _counted(answers) == ["204"]
    assert _counted(waits, cancel=True) == ["499"]
    assert _counted(reads_then_returns, disconnect=True) == ["499"]
    assert _counted(fails) == ["500"]
    # Returning with no answer to a client still there is a bug the server answers with a 500.
    assert _counted(reads_then_returns) == ["500"]
