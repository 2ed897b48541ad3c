"""The demo's ``evergreen serve``: the serving app under uvicorn in a thread of this process.

It listens on a free loopback port chosen by the kernel (the socket is bound here and handed to
uvicorn, so no other process can take the port in between) and shares the demo's open project.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from evergreen.errors import EvergreenError


class LocalServer:
    """``app`` on ``http://127.0.0.1:<free port>``; :meth:`stop` is uvicorn's graceful shutdown."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=10
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="evergreen-demo-serve",
            daemon=True,
        )

    def start(self, timeout: float = 60.0) -> LocalServer:
        """Start, then wait until ``/ready`` says a champion is loaded."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    raise EvergreenError("the demo's server stopped while starting")
                if self._server.started:
                    try:
                        if client.get("/ready").status_code == 200:
                            return self
                    except httpx.TransportError:
                        pass
                time.sleep(0.1)
        self.stop()
        raise EvergreenError(f"the demo's server on {self.url} was not ready after {timeout:.0f} s")

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(30)
        self._sock.close()
