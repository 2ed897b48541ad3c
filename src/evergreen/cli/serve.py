"""``evergreen serve``: the prediction API under uvicorn (one worker, one process, one model in memory)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from evergreen.cli.common import ConfigOpt
from evergreen.errors import BadInputError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _check_listen(host: str, port: int, *, host_source: str) -> None:
    """Refuse an address this process cannot listen on, before the model is loaded.

    uvicorn reports it only after the app's start-up, as its own "ERROR:" line and exit code 3
    (the contract is one "error:" line, exit 2 for bad input and 1 for a failure).
    """
    import socket

    from evergreen.errors import EvergreenError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise BadInputError(f"{host_source} {host!r}: not an address to listen on ({exc.strerror})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server does
        try:
            probe.bind(address)
        except OSError as exc:
            raise EvergreenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address (default: serving.host).")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Port (default: serving.port).")
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request (slower).")] = False,
    insecure_local: Annotated[
        bool,
        typer.Option("--insecure-local", help="Control API without tokens (loopback bind only)."),
    ] = False,
    with_scheduler: Annotated[
        bool,
        typer.Option("--scheduler", help="Also run the trigger scheduler here."),
    ] = False,
) -> None:
    """Serve the champion (/predict, /feedback, /health, /ready, /version, /metrics), the control API and the
    dashboard at /; follows the alias."""
    from evergreen.config import load_settings
    from evergreen.logs import redact_logs
    from evergreen.redact import redactor_for

    settings = load_settings(config)
    redactor = redactor_for(settings)
    redact_logs(redactor)
    bind = host or settings.serving.host
    if insecure_local and bind not in LOOPBACK:
        raise BadInputError(f"--insecure-local needs a loopback bind address, not {bind!r}")
    listen = port if port is not None else settings.serving.port
    _check_listen(bind, listen, host_source="--host" if host else "serving.host")
    import uvicorn

    from evergreen.serving.app import create_app
    from evergreen.serving.auth import TokenTable

    TokenTable.from_env(settings.auth.tokens_env)  # a malformed token list stops here, exit 2
    # freeze_heap: this process owns the heap, so each loaded model (and the libraries around it) is
    # frozen out of the GC's full collections, which otherwise stop every request for ~0.2 s.
    app = create_app(settings, insecure_local=insecure_local, with_scheduler=with_scheduler, freeze_heap=True)
    # One worker: the model, the batcher and the log writer live in this process. uvloop + httptools
    # where installed; asyncio's transports set TCP_NODELAY, so small responses are not delayed.
    server_config = uvicorn.Config(
        app,
        host=bind,
        port=listen,
        workers=1,
        access_log=access_log,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    redact_logs(redactor)  # again: making the config installed uvicorn's own handlers
    # uvicorn shuts down gracefully on SIGTERM (answers in-flight requests, then the lifespan flushes the
    # prediction log) and re-raises the signal afterwards; a no-op handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.Server(server_config).run()


def register(app: typer.Typer) -> None:
    app.command()(serve)
