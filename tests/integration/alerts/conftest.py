"""Real receivers on 127.0.0.1: an HTTP server recording every POST and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.net import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with 500 first
    limit_next: int = 0  # answer this many requests with 429 and ``Retry-After: retry_after`` first
    retry_after: str = "1"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [r.body for r in self.requests if r.path == path]


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                limited = receiver.limit_next > 0
                receiver.limit_next -= 1 if limited else 0
                failing = not limited and receiver.fail_next > 0
                receiver.fail_next -= 1 if failing else 0
                receiver.requests.append(Received(self.path, dict(self.headers), json.loads(raw)))
            self.send_response(429 if limited else 500 if failing else 200)
            if limited:
                self.send_header("Retry-After", receiver.retry_after)
            self.end_headers()
            self.wfile.write(b"down" if failing else b"ok")

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class SmtpServer:
    port: int
    messages: list[Any]
    logins: list[tuple[str, str]]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = SmtpServer(0, [], [])

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            from email import message_from_bytes, policy

            box.messages.append(
                (
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.content, policy=policy.default),
                )
            )
            return "250 OK"

    def authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        box.logins.append((user, password))
        return AuthResult(success=(user, password) == ("alerts", "s3cret-smtp-pass"))

    box.port = free_port()  # aiosmtpd connects to its own port at start: it needs a real one
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=box.port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield box
    controller.stop()
