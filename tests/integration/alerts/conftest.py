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


@dataclass
class TlsSmtpServer(SmtpServer):
    ca_file: str = ""  # the server's self-signed certificate, for SSL_CERT_FILE
    mode: str = ""  # starttls | smtps


def _self_signed(directory: Any) -> tuple[str, str]:
    """A certificate for ``localhost`` (and 127.0.0.1) signed by its own key: (cert file, key file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture(params=["starttls", "smtps"])
def tls_smtp_server(request: Any, tmp_path_factory: Any) -> Iterator[TlsSmtpServer]:
    """aiosmtpd speaking TLS with a self-signed certificate for localhost: STARTTLS required before
    AUTH (``starttls``), or TLS from the first byte (``smtps``)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("tls"))
    box = TlsSmtpServer(0, [], [], ca_file=cert_file, mode=request.param)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    def authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        box.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    box.port = free_port()
    tls = (
        {"tls_context": context, "require_starttls": True}
        if request.param == "starttls"
        # aiosmtpd does not count a TLS-wrapped listener as TLS when it offers AUTH: it is TLS throughout
        else {"ssl_context": context, "auth_require_tls": False}
    )
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=box.port, authenticator=authenticator, **tls
    )
    controller.start()
    yield box
    controller.stop()
