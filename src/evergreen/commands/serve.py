"""``evergreen serve``: the prediction API under uvicorn (one worker, one process, one model in memory)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer


def serve(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Path to evergreen.yaml or its directory.")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address (default: serving.host).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: serving.port).")] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request (slower).")] = False,
) -> None:
    """Serve the champion: /predict, /feedback, /health, /ready, /version, /metrics; follows the alias."""
    import uvicorn

    from evergreen.config import load_settings
    from evergreen.serving.app import create_app

    settings = load_settings(config)
    app = create_app(settings)
    # One worker: the model, the batcher and the log writer live in this process. uvloop + httptools
    # where installed; asyncio's transports set TCP_NODELAY, so small responses are not delayed.
    server_config = uvicorn.Config(
        app,
        host=host or settings.serving.host,
        port=port or settings.serving.port,
        workers=1,
        access_log=access_log,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    # uvicorn shuts down gracefully on SIGTERM (answers in-flight requests, then the lifespan flushes the
    # prediction log) and re-raises the signal afterwards; a no-op handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.Server(server_config).run()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
