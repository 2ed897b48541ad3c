"""Structured logging: JSON lines to stderr (``EVERGREEN_LOG_FORMAT=console`` for humans).

structlog is imported on first use, not at import: with what it pulls in (rich's traceback and
pretty-printer, asyncio) it costs about 0.1 s, a fifth of a read-only CLI command's start-up
(``benchmarks/cli_startup.py``), and most such commands never log. Loggers are therefore small
proxies, and a :func:`configure_logging` that runs before structlog is loaded is applied when the
first log line is written.

Every line passes a redactor (:mod:`evergreen.redact`) just before it is rendered: structlog events
through :class:`RedactProcessor`, stdlib records (uvicorn, MLflow, SQLAlchemy) through
:class:`RedactFilter` on each handler. :func:`configure_logging` starts with the settings-free rule
(URL passwords); an entry point that has loaded the settings calls :func:`redact_logs` with the
project's redactor so the configured secrets go too.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, cast

from evergreen.redact import Redactor

if TYPE_CHECKING:
    import structlog.typing

# The level :func:`configure_logging` asked for while structlog was not loaded yet, and the redactor
# its processor uses. Process-wide like structlog's own configuration, which they stand in for.
_pending_level: list[int] = []
_redactor: list[Redactor] = [Redactor()]


class RedactProcessor:
    """structlog processor: every value in the event (exception text included) redacted."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact

    def __call__(self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
        return {k: self.redact.value(v) for k, v in event_dict.items()}


class RedactFilter(logging.Filter):
    """stdlib filter: the message, its arguments and the formatted exception redacted in place."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("evergreen-redact")
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact.value(record.msg)
        if isinstance(record.args, tuple | dict):
            record.args = self.redact.value(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _filter_handlers(redact: Redactor) -> None:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for handler in [h for lg in loggers for h in lg.handlers]:
        for f in [f for f in handler.filters if isinstance(f, RedactFilter)]:
            handler.removeFilter(f)
        handler.addFilter(RedactFilter(redact))


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # MLflow and alembic are chatty at INFO; their warnings still come through.
    for name in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    _filter_handlers(_redactor[0])
    _pending_level[:] = [level]
    if "structlog" in sys.modules:
        _apply_pending()


def redact_logs(redact: Redactor) -> None:
    """From now on every log line of this process passes ``redact`` (the project's redactor).

    Called by entry points once the settings are loaded, and again after a library installs its own
    handlers (uvicorn does when its config is made). Keeps everything else ``configure_logging`` set.
    """
    _redactor[:] = [redact]
    _filter_handlers(redact)
    if "structlog" in sys.modules:
        import structlog

        if structlog.is_configured():
            processors = [
                RedactProcessor(redact) if isinstance(p, RedactProcessor) else p
                for p in structlog.get_config()["processors"]
            ]
            structlog.configure(processors=processors)


def reset_logging() -> None:
    """Forget the structlog configuration (tests that run the CLI in-process restore with this)."""
    _pending_level.clear()
    _redactor[:] = [Redactor()]
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
            RedactProcessor(_redactor[0]),  # last before rendering: sees the exception text too
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
