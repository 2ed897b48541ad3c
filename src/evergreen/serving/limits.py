"""Request body size limit (413), enforced before the body is read into memory.

Checks ``Content-Length`` first and also counts streamed chunks, so a chunked upload without a length
cannot get past the limit either.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evergreen.errors import BodyTooLargeError


class BodyTooLarge(Exception):
    pass


def _payload(limit: int) -> bytes:
    # Rendered here, not by the app's handler: the body is refused before any route (or handler) runs.
    error = BodyTooLargeError(
        f"request body larger than {limit} bytes (serving.max_body_bytes)", details={"max_body_bytes": limit}
    )
    return json.dumps({"error": error.to_dict()}).encode()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        body = _payload(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": BodyTooLargeError.http_status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
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
                await self._reject(send)
