"""Undo the logging set-up a CLI command does when a test runs ``evergreen.cli.main`` in-process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def restored_logging() -> Iterator[None]:
    """The CLI's ``configure_logging`` binds structlog and the root handler to the sys.stderr of the
    moment (pytest's capture stream, closed after the test): restore both, or a later test's log
    line fails with "I/O operation on closed file"."""
    from evergreen.logs import reset_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        reset_logging()
