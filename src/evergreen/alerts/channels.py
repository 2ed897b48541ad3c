"""Alert channels: log, generic webhook, Slack incoming webhook, e-mail over SMTP.

A channel's URL, token and password are secrets: a channel is named by ``name`` or its type and
position, its errors are redacted, and nothing here logs or returns them.
"""

from __future__ import annotations

import asyncio
import math
import smtplib
import socket
import ssl
import threading
from collections.abc import Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from evergreen.alerts.facts import rank
from evergreen.alerts.messages import AlertMessage, email_message, slack_payload, webhook_payload
from evergreen.config import ChannelConfig
from evergreen.errors import one_line
from evergreen.logs import get_logger
from evergreen.redact import Redactor

log = get_logger("evergreen.alerts")
LOG_METHOD = {"info": "info", "warning": "warning", "alert": "error", "critical": "critical"}


class DeliveryError(Exception):
    """A send failed; the message is already free of secrets."""


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    min_level: str
    config: ChannelConfig

    def accepts(self, level: str | None) -> bool:
        return self.type == "log" or rank(level) >= rank(self.min_level)

    def secrets(self) -> list[str]:
        c = self.config
        return [v.get_secret_value() for v in (c.url, c.token, c.password) if isinstance(v, SecretStr)]

    def send(self, msg: AlertMessage) -> None:
        """One attempt; raises :class:`DeliveryError` with a redacted message."""
        redact = Redactor.of(self.secrets())  # the project's redactor redacts again where it is stored
        try:
            SENDERS[self.type](self.config, msg)
        except DeliveryError as exc:
            raise DeliveryError(redact(str(exc))) from None
        except Exception as exc:  # every transport error becomes one redacted line
            if _name_lookup_failed(exc):
                raise DeliveryError(redact(self._unresolved())) from None
            raise DeliveryError(redact(one_line(exc))[:500]) from None

    def _unresolved(self) -> str:
        # Our sentence, not the library's ("ConnectError: [Errno -2] Name or service not known"):
        # it names the host (only the host: the URL's path, user and password are secrets).
        c = self.config
        if self.type == "email":
            return f"the SMTP server's host {urlsplit(c.smtp or '').hostname} could not be resolved (DNS)"
        url = c.url.get_secret_value() if c.url is not None else ""
        return f"the {self.type} endpoint's host {urlsplit(url).hostname} could not be resolved (DNS)"


def _name_lookup_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised from, a failed name lookup (httpx wraps the resolver's
    ``socket.gaierror`` in its ``ConnectError``; smtplib lets it through)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, socket.gaierror):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _send_log(_cfg: ChannelConfig, msg: AlertMessage) -> None:
    getattr(log, LOG_METHOD.get(msg.level, "warning"))(
        "alert",
        event_type=msg.event,
        alert_id=msg.alert_id,
        project=msg.project,
        kind=msg.kind,
        level=msg.level,
        status=msg.status,
        fingerprint=msg.fingerprint,
        title=msg.title,
    )


def _post(cfg: ChannelConfig, body: dict[str, Any]) -> None:
    assert cfg.url is not None  # validated by ChannelConfig
    headers = {"User-Agent": "evergreen-alerts"}
    if cfg.token is not None:
        headers["Authorization"] = f"Bearer {cfg.token.get_secret_value()}"
    answer = _run_detached(_status_within(cfg.url.get_secret_value(), body, headers, cfg.timeout_seconds))
    if answer is None:
        raise DeliveryError(f"no answer from the {cfg.type} endpoint within {cfg.timeout_seconds:g} s")
    if answer.status == 429:
        raise DeliveryError(f"rate-limited by the {cfg.type} endpoint (HTTP 429){answer.why}")
    if answer.status >= 300:
        # Not httpx's own message: it quotes the URL, which is the secret for Slack.
        raise DeliveryError(f"HTTP {answer.status} from the {cfg.type} endpoint")


@dataclass(frozen=True)
class _Answer:
    status: int
    why: str = ""  # for a final 429: why it was not retried, or that the retry was refused too


def _run_detached(coro: Coroutine[Any, Any, _Answer | None]) -> _Answer | None:
    """``asyncio.run`` without its last step: it waits for the loop's default executor, where a
    name lookup (getaddrinfo) that hangs past the deadline still runs; ``close`` does not wait."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """An HTTP ``Retry-After`` (RFC 9110 §10.2.3: whole seconds, or an HTTP date) as seconds from
    now; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # A server's header, not ours to trust: 400 digits overflowed float(), 5000 hit int()'s limit.
        return float(int(text)) if len(text) <= 15 else math.inf
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


async def _status_within(
    url: str, body: dict[str, Any], headers: dict[str, str], seconds: float
) -> _Answer | None:
    """The response's status, or ``None`` when the whole exchange took longer than ``seconds``.

    httpx's timeout bounds each read, not the exchange: an endpoint that drips its headers or an
    endless body a byte at a time held the one delivery thread (every other channel's alerts behind
    it) for ever, and a huge body was read into memory. Now the body is never read (the status is the
    answer) and the whole exchange has one deadline. Redirects are not followed (a 3xx is a failure).

    A 429 (Slack's rate limit) with a ``Retry-After`` that ends inside that deadline is waited out
    and the message sent once more, still inside it; one past it is not waited for (the dispatcher's
    own retries come back later), and the answer says why.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        async with asyncio.timeout_at(deadline), httpx.AsyncClient(timeout=seconds) as client:
            async with client.stream("POST", url, json=body, headers=headers) as resp:
                status, retry_after = resp.status_code, resp.headers.get("retry-after")
            if status != 429:
                return _Answer(status)
            wait = retry_after_seconds(retry_after)
            if wait is None:
                return _Answer(429, ": no readable Retry-After")
            # Room left for the second POST too (a second of it, or a quarter of a short deadline):
            # one cut off by the deadline would be recorded as no answer, losing why it waited.
            if loop.time() + wait + min(1.0, seconds / 4) >= deadline:
                return _Answer(
                    429,
                    f": its Retry-After of {wait:g} s leaves no time to send again"
                    f" inside the {seconds:g} s deadline",
                )
            await asyncio.sleep(wait)
            async with client.stream("POST", url, json=body, headers=headers) as resp:
                again = resp.status_code
            return _Answer(
                again, f" again after waiting its Retry-After of {wait:g} s" if again == 429 else ""
            )
    except TimeoutError:
        return None


def _send_webhook(cfg: ChannelConfig, msg: AlertMessage) -> None:
    _post(cfg, webhook_payload(msg))


def _send_slack(cfg: ChannelConfig, msg: AlertMessage) -> None:
    _post(cfg, slack_payload(msg))


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: SSLSocket.shutdown unwraps the TLS object,
    # which a read blocked on another thread then meets as a ValueError instead of an end of stream.
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Deadline:
    """One deadline for a whole SMTP exchange, across threads: a timer shuts down every socket the
    exchange has opened when it fires, and a socket opened after it fired at once (a slow connect to
    a second address, then a greeting dripped for ever, would otherwise slip past it)."""

    def __init__(self, seconds: float) -> None:
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._owned: list[socket.socket] = []  # duplicates made by watch_connection, closed by cancel
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            owned, self._owned = self._owned, []
        for sock in owned:
            sock.close()

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def watch_connection(self, sock: socket.socket) -> None:
        """Watch the connection under ``sock`` through a duplicate of it: a TLS handshake about to
        take ``sock`` over detaches it (its shutdown then does nothing), the duplicate still reaches
        the connection."""
        twin = sock.dup()
        with self._lock:
            self._owned.append(twin)
        self.watch(twin)

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            late = self.expired.is_set()
        if late:
            _shut(sock)
        return sock


class _SMTP(smtplib.SMTP):
    """smtplib's client with each socket it opens (and the TLS one STARTTLS makes, its handshake
    too) under a deadline."""

    def __init__(self, deadline: _Deadline, host: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # no host: connecting in the constructor would come before the watch
        self._deadline = deadline
        self._host = host  # what the constructor would set: TLS checks the certificate against it

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # _get_socket is smtplib's own seam for the socket (SMTP_SSL overrides it too); typeshed omits it.
        return self._deadline.watch(super()._get_socket(host, port, timeout))  # type: ignore[misc]

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if self.sock is not None:  # the handshake inside takes the plain socket over
            self._deadline.watch_connection(self.sock)
        reply = super().starttls(*args, **kwargs)
        assert self.sock is not None  # starttls raised otherwise
        self._deadline.watch(self.sock)
        return reply


class _SMTPSSL(smtplib.SMTP_SSL):
    """smtps://: the plain socket is watched before the TLS handshake on it, the TLS one after."""

    def __init__(self, deadline: _Deadline, host: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._deadline = deadline
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # smtplib's SMTP_SSL._get_socket, with the watch between connecting and the handshake: the
        # TLS socket is watched before its handshake (which a server could drip for ever).
        plain = self._deadline.watch(socket.create_connection((host, port), timeout, self.source_address))
        tls = self.context.wrap_socket(plain, server_hostname=self._host, do_handshake_on_connect=False)
        self._deadline.watch(tls)
        tls.do_handshake()
        return tls


def _send_email(cfg: ChannelConfig, msg: AlertMessage) -> None:
    """One SMTP exchange with one deadline, ``timeout_seconds``, as the webhooks' (:func:`_status_within`).

    smtplib's timeout bounds each read: a server answering a byte at a time (an endless ``220-``
    greeting) held the e-mail channel's delivery thread, and every later e-mail alert, for ever. A
    timer shuts the exchange's sockets down at the deadline, which ends whatever read or write is
    blocked. A name lookup that hangs is not interruptible (no socket yet): it ends the exchange at
    its own timeout, and the deadline is then found passed."""
    assert cfg.smtp is not None
    url = urlsplit(cfg.smtp)
    implicit_tls = url.scheme == "smtps"
    host, port = url.hostname or "localhost", url.port or (465 if implicit_tls else 25)
    ctx = ssl.create_default_context()
    deadline = _Deadline(cfg.timeout_seconds)
    smtp: smtplib.SMTP = (
        _SMTPSSL(deadline, host, timeout=cfg.timeout_seconds, context=ctx)
        if implicit_tls
        else _SMTP(deadline, host, timeout=cfg.timeout_seconds)
    )
    sent = False
    deadline.start()
    try:
        smtp.connect(host, port)
        if cfg.starttls and not implicit_tls:
            smtp.starttls(context=ctx)
        if cfg.username:
            smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        smtp.send_message(email_message(msg, cfg.sender, cfg.to))
        sent = True
        smtp.quit()
    except Exception:
        if sent:  # accepted: a server gone or slow at QUIT lost nothing, and a retry would send it twice
            return
        if deadline.expired.is_set():  # whatever the cut-off read raised (OSError, SSL, smtplib)
            raise DeliveryError(
                f"no complete answer from the SMTP server within {cfg.timeout_seconds:g} s"
            ) from None
        raise
    finally:
        deadline.cancel()
        smtp.close()


SENDERS = {"log": _send_log, "webhook": _send_webhook, "slack": _send_slack, "email": _send_email}


def build_channels(configs: Sequence[ChannelConfig]) -> tuple[Channel, ...]:
    """The configured channels, with the log channel always first (added when not configured)."""
    out = []
    for i, c in enumerate(configs):
        out.append(Channel(c.shown_name(i), c.type, c.min_level, c))
    if not any(c.type == "log" for c in out):
        out.insert(0, Channel("log", "log", "info", ChannelConfig(type="log", min_level="info")))
    return tuple(out)
