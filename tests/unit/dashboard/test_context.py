"""The posted form as the dashboard reads it: bounded in bytes and fields, one value per field."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from starlette.requests import Request

from evergreen.dashboard.context import MAX_FORM_BYTES, MAX_FORM_FIELDS, DashboardError, read_form


def _posted(body: bytes) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    return Request(scope, receive)  # type: ignore[arg-type]


def test_a_predict_form_of_a_wide_model_is_read_whole() -> None:
    # One field per column: a model with a few hundred inputs still posts its form.
    body = urlencode({**{f"f:c{i}": str(i) for i in range(500)}, "f:c7": "x", "csrf_token": "t"})
    form = asyncio.run(read_form(_posted(body.encode())))
    assert len(form) == 501 and form["f:c7"] == "x" and form["f:c499"] == "499"


@pytest.mark.parametrize(
    "body",
    [
        b"a=" + b"x" * MAX_FORM_BYTES,  # too many bytes
        b"&".join(b"a%d=" % i for i in range(MAX_FORM_FIELDS + 1)),  # too many fields
        b"a=\xff",  # not UTF-8
    ],
)
def test_a_form_too_big_or_unreadable_is_refused(body: bytes) -> None:
    with pytest.raises(DashboardError):
        asyncio.run(read_form(_posted(body)))
