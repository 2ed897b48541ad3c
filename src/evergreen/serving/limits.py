"""Request body size limit (413), enforced before the body is read into memory.

Checks ``Content-Length`` first and also counts streamed chunks, so a chunked upload without a length
cannot get past the limit either. A ``Content-Length`` that is not a count of bytes (negative, not a
number) is refused with a 400 naming it: its body's end cannot be known, and a value the size check
cannot read must not pass it unread. uvicorn answers such a request itself before the app runs; the
check here is for any other ASGI server in front of the app.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evergreen.errors import BodyTooLargeError, EvergreenError, InvalidHeaderError, shown
from evergreen.serving.errors import render

# The body that follows a refused request is not read: the connection cannot be reused for another.
_CLOSE = {"Connection": "close"}


class BodyTooLarge(Exception):
    pass


def content_length_error(value: bytes, max_bytes: int) -> EvergreenError | None:
    """The refusal of a ``Content-Length`` value: not ``1*DIGIT`` (RFC 9110 §8.6), or over the limit."""
    text = value.strip(b" \t")
    # bytes.isdigit is ASCII only; int() would also take "+5", "5_0" and non-ASCII digits.
    if not text.isdigit():
        return InvalidHeaderError(
            f"Content-Length {shown(value.decode('latin-1'))} is not a number of bytes",
            details={"field": "Content-Length"},
        )
    if int(text) > max_bytes:
        return _too_large(max_bytes)
    return None


def _too_large(max_bytes: int) -> BodyTooLargeError:
    return BodyTooLargeError(
        f"request body larger than {max_bytes} bytes (serving.max_body_bytes)",
        details={"max_body_bytes": max_bytes},
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                err = content_length_error(value, self.max_bytes)
                if err is not None:
                    # The app's one error shape, before any route (or its handler) runs.
                    await render(err, _CLOSE)(scope, receive, send)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await render(_too_large(self.max_bytes), _CLOSE)(scope, receive, send)
