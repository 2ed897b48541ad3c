"""Endpoints that misbehave: a body that never ends, headers that never end, a redirect. None of them
may hold the delivery thread past the channel's timeout, nor delay another channel's delivery."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evergreen.alerts import Facts
from evergreen.alerts.facts import RetrainFailure, RetrainState
from evergreen.alerts.repository import list_deliveries
from evergreen.alerts.service import AlertService
from tests.support.alerts import make_project

FAILED = Facts(retrain=RetrainState(RetrainFailure("run:r1", "failed", "r1", "training_failed: boom", "t")))


class Drip:
    """A raw TCP endpoint: reads the request, then answers with ``head`` and drips ``chunk`` forever
    (until the test stops it), so every single read is quick but the response never ends."""

    def __init__(self, head: bytes, chunk: bytes) -> None:
        self.head, self.chunk = head, chunk
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(self.head)
                while not self.stop.wait(0.05):
                    conn.sendall(self.chunk)
                    self.sent += len(self.chunk)
            except OSError:
                return  # the client hung up: what a well-behaved client does

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def endless_body() -> Iterator[Drip]:
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"  # one 1 KiB chunk of a chunked body per tick
    drip = Drip(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk)
    yield drip
    drip.close()


@pytest.fixture
def endless_headers() -> Iterator[Drip]:
    drip = Drip(b"HTTP/1.1 200 OK\r\n", b"X-Pad: y\r\n")
    yield drip
    drip.close()


def _slack_beside_a_good_webhook(
    tmp_path: Path, name: str, slack: Drip, timeout_seconds: float, http_receiver: Any
) -> Any:
    """A project alerting a misbehaving Slack (``slack``) and a webhook that answers ("good")."""
    return make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        retry_count=0,
        channels=[
            {
                "type": "slack",
                "name": name,
                "url": f"http://127.0.0.1:{slack.port}/hook",
                "min_level": "alert",
                "timeout_seconds": timeout_seconds,
            },
            {"type": "webhook", "name": "good", "url": http_receiver.url("/h"), "min_level": "alert"},
        ],
    )


@pytest.mark.parametrize("endpoint", ["endless_body", "endless_headers"])
def test_an_endpoint_that_never_finishes_answering_neither_stalls_nor_blocks_the_others(
    tmp_path: Path, http_receiver, endpoint: str, request: pytest.FixtureRequest
) -> None:
    drip: Drip = request.getfixturevalue(endpoint)
    project = _slack_beside_a_good_webhook(tmp_path, "drip", drip, 1, http_receiver)
    svc = AlertService(project)
    svc.raise_alerts(FAILED)
    # Before: the worker read the dripping response for ever; flush gave up and "good" never got it.
    assert svc.flush(30)
    assert len(http_receiver.bodies("/h")) == 1
    rows = {d["channel"]: (d["status"], d["error"]) for d in list_deliveries(project.store)}
    assert rows["good"] == ("sent", None)
    if endpoint == "endless_body":
        assert rows["drip"] == ("sent", None)  # a 200 is an answer: its body is never read
    else:
        assert rows["drip"] == ("gave_up", "no answer from the slack endpoint within 1 s")
    svc.close()


def test_a_redirect_is_not_followed_and_is_a_failure_that_names_the_status(
    tmp_path: Path, http_receiver
) -> None:
    moved = f"Location: {http_receiver.url('/elsewhere')}\r\n"
    drip = Drip(f"HTTP/1.1 302 Found\r\n{moved}Content-Length: 0\r\n\r\n".encode(), b"")
    try:
        project = make_project(
            tmp_path / "p",
            f"sqlite:///{tmp_path}/m.db",
            retry_count=0,
            channels=[{"type": "webhook", "name": "moved", "url": f"http://127.0.0.1:{drip.port}/h"}],
        )
        svc = AlertService(project)
        svc.raise_alerts(FAILED)
        assert svc.flush(30)
        rows = {d["channel"]: (d["status"], d["error"]) for d in list_deliveries(project.store)}
        assert rows["moved"] == ("gave_up", "HTTP 302 from the webhook endpoint")
        assert http_receiver.bodies("/elsewhere") == []
        svc.close()
    finally:
        drip.close()


def test_an_alert_quoting_a_value_carries_no_e_mail_address_or_phone_number_anywhere(
    tmp_path: Path, http_receiver, smtp_server
) -> None:
    """A failed run's error quotes the value it choked on, a rollback's reason quotes the customer
    who complained: neither goes to Slack, a webhook, an e-mail, the alert row or the audit trail."""
    from evergreen.alerts.facts import ChampionChange
    from evergreen.alerts.repository import list_alerts
    from evergreen.store.audit import list_actions

    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        channels=[
            {"type": "slack", "url": http_receiver.url("/slack"), "min_level": "info"},
            {"type": "webhook", "url": http_receiver.url("/hook"), "min_level": "info"},
            {
                "type": "email",
                "smtp": f"smtp://127.0.0.1:{smtp_server.port}",
                "to": ["ops@example.com"],
                "min_level": "info",
            },
        ],
    )
    error = "ValueError: could not convert string to float: 'jane.doe@example.com'"
    reason = "customer +44 20 7946 0958 (jane.doe@example.com) says scores are off"
    svc = AlertService(project)
    svc.raise_alerts(
        Facts(
            retrain=RetrainState(RetrainFailure("run:r9", "failed", "r9", error, "t")),
            champion_change=ChampionChange(7, "rollback", "2", "3", "ann", reason, "t"),
        )
    )
    assert svc.flush(30)
    svc.close()
    mails = [m.as_string() for _f, _t, m in smtp_server.messages]
    everything = (
        repr(http_receiver.bodies("/slack"))
        + repr(http_receiver.bodies("/hook"))
        + repr(mails)
        + repr(list_alerts(project.store))
        + repr(list_actions(project.store))
    )
    assert len(mails) == 2 and "<EMAIL>" in everything and "<PHONE>" in everything
    for raw in ("jane.doe@example.com", "7946 0958", "jane.doe"):
        assert raw not in everything


def test_a_channel_that_hangs_does_not_hold_back_another_channels_delivery(
    tmp_path: Path, http_receiver
) -> None:
    """One delivery thread served every channel: a Slack that accepted the connection and never
    answered held every e-mail and webhook behind it for its whole timeout, every attempt."""
    hang = Drip(b"", b"")  # accepts, reads the request, answers nothing until released
    hang.stop.clear()
    try:
        project = _slack_beside_a_good_webhook(tmp_path, "hang", hang, 600, http_receiver)
        svc = AlertService(project)
        svc.raise_alerts(FAILED)
        delivered = threading.Event()

        def watch() -> None:
            while not delivered.is_set() and not hang.stop.is_set():
                if http_receiver.bodies("/h"):
                    delivered.set()
                hang.stop.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # Before: "good" waited behind "hang" (600 s); now it goes out while "hang" still hangs.
        assert delivered.wait(30)
    finally:
        hang.close()  # the hanging exchange ends (connection closed): the test can finish
    assert svc.flush(30)
    svc.close()


def test_a_name_lookup_that_hangs_does_not_outlive_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncio.run waited for its executor, where getaddrinfo still hung past the channel's deadline:
    a resolver that never answers held the channel's delivery thread with it."""
    import socket

    from evergreen.alerts.channels import DeliveryError, _post
    from evergreen.config import ChannelConfig

    released = threading.Event()
    real = socket.getaddrinfo

    def hanging(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("hook.invalid", b"hook.invalid"):
            released.wait(120)  # the resolver never answers, until the test lets it go
            # then "no such name" from here: the machine's resolver is never asked for the name
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    cfg = ChannelConfig(type="webhook", name="slow-dns", url="http://hook.invalid/h", timeout_seconds=0.5)
    outcome: list[BaseException] = []

    def deliver() -> None:
        try:
            _post(cfg, {"text": "x"})
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=deliver, daemon=True)
    worker.start()
    try:
        worker.join(60)  # a liveness bound: the resolver is still hanging, only the deadline can end it
        assert not worker.is_alive(), "the delivery waited for the hanging name lookup"
        assert [type(e) for e in outcome] == [DeliveryError]
        assert str(outcome[0]) == "no answer from the webhook endpoint within 0.5 s"
    finally:
        released.set()


class DripSMTP:
    """An asyncio SMTP server on loopback that never finishes its greeting: ``220-`` continuation
    lines, one byte at a time (every read is quick, the reply never ends)."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.clients = 0
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        import asyncio

        async def drip(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.clients += 1
            try:
                while True:
                    for byte in b"220-still thinking\r\n":
                        writer.write(bytes([byte]))
                        await writer.drain()
                        await asyncio.sleep(0.02)
            except (ConnectionError, asyncio.CancelledError):
                writer.close()

        async def start() -> None:
            server = await asyncio.start_server(drip, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()
        # Stopped: end the dripping connections before the loop closes (no task left pending).
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_an_smtp_server_that_drips_its_answer_fails_the_delivery_at_the_channels_deadline(
    tmp_path: Path,
) -> None:
    """smtplib's timeout bounds each read: a server answering a byte at a time held the e-mail
    channel's delivery thread for ever (every later e-mail alert behind it). Now the delivery has one
    deadline, ``timeout_seconds``, and is recorded failed, saying so."""
    server = DripSMTP()
    try:
        project = make_project(
            tmp_path / "p",
            f"sqlite:///{tmp_path}/m.db",
            retry_count=0,
            channels=[
                {
                    "type": "email",
                    "name": "mail",
                    "smtp": f"smtp://127.0.0.1:{server.port}",
                    "to": ["ops@example.com"],
                    "min_level": "alert",
                    "timeout_seconds": 1,
                }
            ],
        )
        svc = AlertService(project)
        svc.raise_alerts(FAILED)
        assert svc.flush(30), "the e-mail delivery is still held by the dripping server"
        rows = [(d["status"], d["error"]) for d in list_deliveries(project.store) if d["channel"] == "mail"]
        assert rows == [("gave_up", "no complete answer from the SMTP server within 1 s")]
        assert server.clients == 1
        svc.close()
    finally:
        server.close()
