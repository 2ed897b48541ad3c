"""Structured logging: JSON lines to stderr (``EVERGREEN_LOG_FORMAT=console`` for humans).

structlog is imported on first use, not at import: with what it pulls in (rich's traceback and
pretty-printer, asyncio) it costs about 0.1 s, a fifth of a read-only CLI command's start-up
(``benchmarks/cli_startup.py``), and most such commands never log. Loggers are therefore small
proxies, and a :func:`configure_logging` that runs before structlog is loaded is applied when the
first log line is written.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import structlog.typing

# The level :func:`configure_logging` asked for while structlog was not loaded yet. Process-wide like
# structlog's own configuration, which it stands in for until then.
_pending_level: list[int] = []


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # MLflow and alembic are chatty at INFO; their warnings still come through.
    for name in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    _pending_level[:] = [level]
    if "structlog" in sys.modules:
        _apply_pending()


def reset_logging() -> None:
    """Forget the structlog configuration (tests that run the CLI in-process restore with this)."""
    _pending_level.clear()
    if "structlog" in sys.modules:
        import structlog

        structlog.reset_defaults()


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return cast("structlog.typing.FilteringBoundLogger", _LazyLogger(name))


class _StderrStream:
    """Writes to the ``sys.stderr`` of the moment, not the one at configure time (a test's capture
    stream is closed after the test; a redirected stderr must still receive the lines)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _apply_pending() -> None:
    import structlog

    if not _pending_level:
        return
    level = _pending_level.pop()
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if os.environ.get("EVERGREEN_LOG_FORMAT") == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=cast(Any, _StderrStream())),
        cache_logger_on_first_use=False,
    )


class _LazyLogger:
    """Stands for ``structlog.get_logger(name)``; loads (and, if asked, configures) structlog on the
    first call."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            import structlog

            _apply_pending()
            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, attr)
