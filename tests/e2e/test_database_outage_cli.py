"""The CLI against a metadata database that is there but does not answer (a stalled failover, a
half-open proxy): one line on stderr and a non-zero exit, not a command that hangs for ever."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Runner, set_config

PASSWORD = "Silent-Pw-7731"


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A port on 127.0.0.1 that completes the TCP handshake (the kernel's backlog) and never answers:
    what a client sees of a server or a proxy that hangs. Nothing here reads or writes a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def test_a_database_that_never_answers_is_one_line_and_an_exit_not_a_hang(
    project_dir: Path, run_cli: Runner, silent_database: int
) -> None:
    url = f"postgresql+psycopg://evergreen:{PASSWORD}@127.0.0.1:{silent_database}/evergreen"
    set_config(project_dir, "storage", database_url=url)
    # The bound only keeps a broken build from hanging the suite: without a connect timeout the
    # command waited for the server's first byte for ever.
    res = run_cli("status", timeout=90)
    assert res.code == 1, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: metadata database unavailable: "), lines[0]
    assert "timeout" in lines[0], lines[0]
    assert PASSWORD not in res.stderr + res.stdout
