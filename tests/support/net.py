"""Real servers on 127.0.0.1 for tests: a free port, and waiting for a process to answer HTTP."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

LOWEST = 10000  # below: well-known and registered services' ports


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free now on 127.0.0.1, held together while picked so none repeats.

    Taken below the kernel's ephemeral range: the server that binds such a port does so later, often
    seconds later (a cold ``python -m evergreen serve``, initdb, ``weed mini``), and a port from that
    range (what ``bind(0)`` gives) is meanwhile drawn again by every other ``bind(0)`` on the machine
    (another test process, a library binding port 0); outgoing connections draw from it too, though
    Linux (>= 4.6) keeps them to even ports while ``bind(0)`` gets odd ones, unless the even ones run
    short. The server then exits with "address already in use". Below the range only an explicit
    bind takes a port. Where the range is unknown, ``bind(0)`` as before.
    """
    low = _ephemeral_low()
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        if low is None:
            for _ in range(n):
                s = held.enter_context(socket.socket())
                s.bind(("127.0.0.1", 0))
                ports.append(int(s.getsockname()[1]))
            return ports
        span = low - LOWEST
        start = random.SystemRandom().randrange(span)  # not seeded: no test depends on the number
        for offset in range(span):
            port = LOWEST + (start + offset) % span
            s = held.enter_context(socket.socket())
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
            if len(ports) == n:
                return ports
    raise AssertionError(f"no {n} free ports between {LOWEST} and {low}")


def free_port() -> int:
    return free_ports(1)[0]


def _ephemeral_low() -> int | None:
    """The lowest port of the kernel's ephemeral range when there is room below it, else None."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return low if low - LOWEST >= 1000 else None


def spawn_logged(args: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """A long-running server whose stdout and stderr both go to the file ``log``.

    Not a pipe: a pipe nobody reads fills after ~64 KB of log lines, and the server's next write
    (under the logging lock, so every thread that logs waits too) then blocks for good.
    """
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kwargs)


def log_tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def wait_http(
    url: str,
    proc: subprocess.Popen[str] | subprocess.Popen[bytes],
    timeout: float = 120,
    log: Path | None = None,
) -> None:
    """Poll ``url`` until it answers 200; fail at once with the process's output if it exits.

    The output is ``log``'s tail when the process writes to a file (:func:`spawn_logged`), else what
    its stderr pipe holds. A liveness bound for start-up, not a timing assertion.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            said = log_tail(log) if log is not None else str(err)[-3000:]
            raise AssertionError(f"server exited with {proc.returncode}: {said}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200" + (f": {log_tail(log)}" if log is not None else ""))
