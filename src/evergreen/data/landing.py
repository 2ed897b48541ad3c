"""The landing: files that arrive by themselves, from a directory or an object-store prefix.

A directory is listed here and each file goes through :func:`evergreen.data.ingest.ingest_file`
(moved to ``<landing>/.processed/`` or quarantine afterwards); an fsspec URL is read through
:mod:`evergreen.data.remote_landing`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from evergreen.config import Settings
from evergreen.data.ingest import IngestResult, ingest_file, prune_processed
from evergreen.data.objectstore import MARKER
from evergreen.data.read import FORMATS
from evergreen.data.remote_landing import ingest_remote_landing
from evergreen.store.engine import Store, utcnow


def landing_files(settings: Settings) -> list[Path]:
    """Supported files in the landing dir, by name; symbolic links too (they are quarantined unread).
    With ``data.landing_ready: marker``, only files no newer than ``<landing>/_SUCCESS``."""
    landing = settings.data.landing_dir
    if landing is None or not landing.is_dir():
        return []
    files = sorted(
        (p for p in landing.iterdir() if (p.is_symlink() or p.is_file()) and p.suffix.lower() in FORMATS),
        key=lambda p: p.name,
    )
    if settings.data.landing_ready == "marker":
        try:
            done = (landing / MARKER).stat().st_mtime
        except FileNotFoundError:
            return []
        files = [p for p in files if p.lstat().st_mtime <= done]
    return files


def ingest_landing(
    settings: Settings, store: Store, env: Mapping[str, str] | None = None
) -> list[IngestResult]:
    """Ingest every supported file in ``data.landing`` (by name) and move each one out of it; an
    object-store landing through :mod:`evergreen.data.remote_landing`."""
    env = os.environ if env is None else env
    if settings.data.landing_url is not None:
        return ingest_remote_landing(settings, store, env)
    out = [ingest_file(settings, store, p, env, move=True) for p in landing_files(settings)]
    prune_processed(settings, utcnow())
    return out
