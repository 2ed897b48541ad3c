"""Delivery against real receivers: retries after a failure, a down channel, SMTP login, secrets."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import structlog

from evergreen.alerts import Facts
from evergreen.alerts.facts import RetrainFailure, RetrainState
from evergreen.alerts.repository import list_alerts, list_deliveries
from evergreen.alerts.service import AlertService
from tests.support.alerts import make_project

HOOK_SECRET = "/hook/SECRET-PATH-123"
TOKEN = "tok-very-secret-456"
SMTP_PASSWORD = "s3cret-smtp-pass"

FAILED = Facts(retrain=RetrainState(RetrainFailure("run:r1", "failed", "r1", "training_failed: boom", "t")))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_retry_after_failure_then_sent_with_backoff_off_the_callers_path(
    tmp_path: Path, http_receiver
) -> None:
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        retry_count=3,
        retry_backoff_seconds=0.01,
        channels=[{"type": "webhook", "name": "hook", "url": http_receiver.url("/h"), "min_level": "alert"}],
    )
    http_receiver.fail_next = 2
    svc = AlertService(project)
    changes = svc.raise_alerts(FAILED)
    assert [(c.change, c.event, c.level) for c in changes] == [("opened", "opened", "alert")]
    assert svc.flush(30)
    rows = [(d["channel"], d["attempt"], d["status"], d["error"]) for d in list_deliveries(project.store)]
    assert sorted(rows, key=str) == sorted(
        [
            ("log", 1, "sent", None),
            ("hook", 1, "failed", "HTTP 500 from the webhook endpoint"),
            ("hook", 2, "failed", "HTTP 500 from the webhook endpoint"),
            ("hook", 3, "sent", None),
        ],
        key=str,
    )
    bodies = http_receiver.bodies("/h")
    assert len(bodies) == 3 and bodies[0] == bodies[2]  # the same payload each attempt
    svc.close()


def test_nothing_sent_below_min_level(tmp_path: Path, http_receiver) -> None:
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        channels=[
            {"type": "webhook", "url": http_receiver.url("/crit"), "min_level": "critical"},
            {"type": "slack", "url": http_receiver.url("/alert"), "min_level": "alert"},
        ],
    )
    svc = AlertService(project)
    svc.raise_alerts(FAILED)  # level "alert"
    assert svc.flush(30)
    assert http_receiver.bodies("/crit") == []
    assert [b["text"] for b in http_receiver.bodies("/alert")] == [
        "[ALERT] churn: run r1 failed: training_failed: boom"
    ]
    svc.close()


def test_down_channel_gives_up_never_blocks_others_nor_leaks_secrets(
    tmp_path: Path, http_receiver, smtp_server
) -> None:
    down = f"http://127.0.0.1:{_closed_port()}{HOOK_SECRET}"
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        retry_count=1,
        retry_backoff_seconds=0.01,
        channels=[
            {"type": "webhook", "name": "down", "url": down, "token": TOKEN, "min_level": "warning"},
            {"type": "slack", "url": http_receiver.url(HOOK_SECRET), "min_level": "warning"},
            {
                "type": "email",
                "smtp": f"smtp://alerts:{SMTP_PASSWORD}@127.0.0.1:{smtp_server.port}",
                "to": ["ops@example.com"],
                "min_level": "warning",
                "allow_plaintext_auth": True,  # the test's SMTP server speaks no TLS
            },
        ],
    )
    assert repr(project.settings.alerts).count(SMTP_PASSWORD) == 0
    svc = AlertService(project)
    with structlog.testing.capture_logs() as logs:
        svc.raise_alerts(FAILED)  # returns although one channel is down
        assert svc.flush(30)
    assert len(http_receiver.bodies(HOOK_SECRET)) == 1
    assert smtp_server.logins == [("alerts", SMTP_PASSWORD)] and len(smtp_server.messages) == 1
    deliveries = list_deliveries(project.store)
    assert [(d["channel"], d["attempt"], d["status"]) for d in deliveries if d["channel"] == "down"] == [
        ("down", 1, "failed"),
        ("down", 2, "gave_up"),
    ]
    assert all(d["error"].startswith("ConnectError") for d in deliveries if d["channel"] == "down")
    everything = repr(deliveries) + repr(list_alerts(project.store)) + repr(logs)
    assert "alert_delivery_failed" in everything  # the failure is logged ...
    for secret in (HOOK_SECRET, TOKEN, SMTP_PASSWORD, "SECRET-PATH"):
        assert secret not in everything  # ... but no secret is
    svc.close()


def test_config_error_does_not_echo_a_secret(tmp_path: Path) -> None:
    from evergreen.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        make_project(
            tmp_path / "p",
            f"sqlite:///{tmp_path}/m.db",
            channels=[{"type": "email", "smtp": f"smtp://u:{SMTP_PASSWORD}@h:25", "to": []}],
        )
    assert "alerts.channels.0" in exc.value.message
    assert SMTP_PASSWORD not in repr(exc.value.message) + repr(exc.value.details)


def test_the_project_owns_its_alert_service_and_closing_it_delivers_what_is_queued(
    tmp_path: Path, http_receiver
) -> None:
    """No process-wide cache, no atexit hook: whoever opened the project closes it, deliveries go out."""
    from evergreen.alerts import raise_alerts, service_for

    channels = [{"type": "webhook", "name": "hook", "url": http_receiver.url("/h"), "min_level": "alert"}]
    http_receiver.fail_next = 1  # the delivery needs a retry, half a second later
    url = f"sqlite:///{tmp_path}/m.db"
    with make_project(tmp_path / "p", url, channels=channels, retry_backoff_seconds=0.5) as project:
        svc = service_for(project)
        assert service_for(project) is svc  # one service (one delivery thread) per project
        other = make_project(tmp_path / "q", url, channels=channels)
        assert service_for(other) is not svc  # another project object, another owner
        other.close()
        raise_alerts(project, FAILED)
    # Leaving the block closed the project: the retry went out before close() returned.
    assert len(http_receiver.bodies("/h")) == 2
    assert service_for(project) is not svc  # a later use makes a new service
    project.close()


def test_a_host_that_does_not_resolve_is_recorded_in_a_sentence_naming_it_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx's ``ConnectError: [Errno -2] Name or service not known`` (and smtplib's ``gaierror``) was
    the recorded reason: no host named, a library's words. The resolver is this process's own
    ``getaddrinfo`` answering "no such name" for ``.invalid`` (RFC 2606): no query leaves the machine."""
    real = socket.getaddrinfo

    def resolver(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        retry_count=0,
        channels=[
            {
                "type": "slack",
                "name": "chat",
                "url": f"https://hooks.invalid{HOOK_SECRET}",
                "min_level": "alert",
            },
            {
                "type": "webhook",
                "name": "hook",
                "url": f"http://user:{TOKEN}@hook.invalid:8080{HOOK_SECRET}",
                "min_level": "alert",
            },
            {
                "type": "email",
                "name": "mail",
                "smtp": f"smtp://alerts:{SMTP_PASSWORD}@mail.invalid:2525",
                "to": ["ops@example.com"],
                "min_level": "alert",
                "allow_plaintext_auth": True,
            },
        ],
    )
    svc = AlertService(project)
    svc.raise_alerts(FAILED)
    assert svc.flush(30)
    errors = {d["channel"]: d["error"] for d in list_deliveries(project.store) if d["channel"] != "log"}
    assert errors == {
        "chat": "the slack endpoint's host hooks.invalid could not be resolved (DNS)",
        "hook": "the webhook endpoint's host hook.invalid could not be resolved (DNS)",
        "mail": "the SMTP server's host mail.invalid could not be resolved (DNS)",
    }
    svc.close()


def test_slacks_429_is_retried_once_after_its_retry_after_within_the_deadline(
    tmp_path: Path, http_receiver
) -> None:
    """Slack answers a burst with 429 and ``Retry-After``; the delivery recorded a failure and the
    dispatcher's backoff (2 s, not Slack's delay) came back. Now the delivery waits what Slack asked
    and tries once more inside its own deadline."""
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        retry_count=0,
        channels=[{"type": "slack", "name": "chat", "url": http_receiver.url("/s"), "min_level": "alert"}],
    )
    http_receiver.limit_next, http_receiver.retry_after = 1, "1"
    svc = AlertService(project)
    svc.raise_alerts(FAILED)
    assert svc.flush(30)
    rows = [
        (d["attempt"], d["status"], d["error"])
        for d in list_deliveries(project.store)
        if d["channel"] == "chat"
    ]
    assert rows == [(1, "sent", None)]
    assert len(http_receiver.bodies("/s")) == 2  # the 429, then the same message accepted
    svc.close()


@pytest.mark.parametrize("retry_after", ["3600", "4"])
def test_a_retry_after_past_the_deadline_is_recorded_as_rate_limited_without_waiting(
    tmp_path: Path, http_receiver, retry_after: str
) -> None:
    """3600 s is past the 5 s deadline; 4 s is inside it but leaves no time for the second POST, which
    the deadline would cut off and record as no answer, losing the 429's reason."""
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        retry_count=0,
        channels=[
            {
                "type": "slack",
                "name": "chat",
                "url": http_receiver.url("/s"),
                "min_level": "alert",
                "timeout_seconds": 5,
            }
        ],
    )
    http_receiver.limit_next, http_receiver.retry_after = 5, retry_after
    svc = AlertService(project)
    svc.raise_alerts(FAILED)
    assert svc.flush(30)
    rows = [
        (d["attempt"], d["status"], d["error"])
        for d in list_deliveries(project.store)
        if d["channel"] == "chat"
    ]
    assert rows == [
        (
            1,
            "gave_up",
            "rate-limited by the slack endpoint (HTTP 429): "
            f"its Retry-After of {retry_after} s leaves no time to send again inside the 5 s deadline",
        )
    ]
    assert len(http_receiver.bodies("/s")) == 1
    svc.close()


def test_an_email_over_tls_is_delivered_with_its_login(
    tmp_path: Path, tls_smtp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STARTTLS and smtps:// against a real TLS server whose certificate names localhost: the client
    checks the certificate against the configured host (fde3746 built the client without one, so
    every TLS e-mail failed with 'check_hostname requires server_hostname')."""
    monkeypatch.setenv("SSL_CERT_FILE", tls_smtp_server.ca_file)  # trust the test's own certificate
    port, implicit = tls_smtp_server.port, tls_smtp_server.mode == "smtps"
    channel = {
        "type": "email",
        "name": "mail",
        "smtp": f"{'smtps' if implicit else 'smtp'}://alerts:{SMTP_PASSWORD}@localhost:{port}",
        "starttls": not implicit,
        "to": ["ops@example.com"],
        "min_level": "warning",
    }
    project = make_project(tmp_path / "p", f"sqlite:///{tmp_path}/m.db", retry_count=0, channels=[channel])
    svc = AlertService(project)
    svc.raise_alerts(FAILED)
    assert svc.flush(30)
    svc.close()
    deliveries = [d for d in list_deliveries(project.store) if d["channel"] == "mail"]
    assert [(d["status"], d["error"]) for d in deliveries] == [("sent", None)]
    assert tls_smtp_server.logins == [("alerts", SMTP_PASSWORD)]
    assert len(tls_smtp_server.messages) == 1
