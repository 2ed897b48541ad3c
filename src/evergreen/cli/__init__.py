"""The ``evergreen`` command line (DESIGN.md §2): one module per verb group, shared options and
output in :mod:`evergreen.cli.common`, the app and :func:`main` in :mod:`evergreen.cli.app`."""

from evergreen.cli.app import app, main

__all__ = ["app", "main"]
