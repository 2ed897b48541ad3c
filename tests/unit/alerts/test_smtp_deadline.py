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
