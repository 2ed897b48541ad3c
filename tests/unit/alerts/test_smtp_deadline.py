"""The SMTP exchange's one deadline (alerts.channels._Deadline) over real socket pairs."""

from __future__ import annotations

import socket

from evergreen.alerts.channels import _Deadline


def test_a_socket_watched_when_the_deadline_fires_is_shut_down() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        deadline = _Deadline(60)
        deadline.watch(ours)
        deadline._expire()  # what the timer calls
        assert deadline.expired.is_set()
        ours.settimeout(5)
        assert ours.recv(1) == b""  # a blocked read would end: the socket is shut down


def test_a_socket_opened_after_the_deadline_is_shut_down_at_once() -> None:
    """A connect that succeeds past the deadline (a second address after a slow first) then meets a
    server dripping its greeting: without this, smtplib's per-read timeout never fires."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        deadline = _Deadline(60)
        deadline._expire()
        deadline.watch(ours)
        ours.settimeout(5)
        assert ours.recv(1) == b""


def test_a_socket_before_the_deadline_is_left_open() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        deadline = _Deadline(60)
        deadline.watch(ours)
        theirs.sendall(b"2")
        assert ours.recv(1) == b"2"
        assert not deadline.expired.is_set()


def _stalled_handshake(watch: str) -> BaseException:
    """A TLS client handshake against a peer that never answers, its own read timeout far away (60
    s): what ends it. The deadline (0.2 s) shuts the connection, so the read ends with an end of
    stream, not with the read timeout's TimeoutError."""
    import ssl

    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(60)
        deadline = _Deadline(0.2)
        if watch == "connection":  # STARTTLS: watched through a duplicate before the TLS takes it
            deadline.watch_connection(ours)
        ctx = ssl.create_default_context()
        tls = ctx.wrap_socket(ours, server_hostname="localhost", do_handshake_on_connect=False)
        if watch == "tls":  # smtps: the TLS socket watched before its handshake
            deadline.watch(tls)
        deadline.start()
        try:
            tls.do_handshake()
        except BaseException as exc:
            return exc
        finally:
            deadline.cancel()
            tls.close()
    raise AssertionError("the handshake with a silent peer succeeded")


def test_the_deadline_ends_a_stalled_tls_handshake_of_smtps() -> None:
    exc = _stalled_handshake("tls")
    assert isinstance(exc, OSError) and not isinstance(exc, TimeoutError), repr(exc)


def test_the_deadline_ends_a_stalled_starttls_handshake() -> None:
    """The plain socket is detached by the TLS one inside smtplib's starttls: shutting the plain
    object down would do nothing, the duplicate reaches the connection."""
    exc = _stalled_handshake("connection")
    assert isinstance(exc, OSError) and not isinstance(exc, TimeoutError), repr(exc)
