"""Real servers on 127.0.0.1 for tests: a free port, and waiting for a process to answer HTTP."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Poll ``url`` until it answers 200; fail at once with the process's stderr if it exits.

    A liveness bound for start-up, not a timing assertion.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"server exited with {proc.returncode}: {str(err)[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")
