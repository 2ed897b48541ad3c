"""Where processed files go: rejected ones to quarantine (with a reason sidecar), others aside.

A quarantined file is the user's own bytes, kept as-is so they can inspect and fix it; the sidecar
``<name>.reason.json`` says why it was refused. Files named on the command line are copied (the user
still owns the original); files picked up from the landing directory are moved, so they are not
ingested again on the next scan. Both kinds are the user's raw bytes (PII included): they are
written owner-only and deleted after ``retention.processed_days`` (:func:`remove_expired`), counted
from when evergreen processed them (the mtime is set then, whatever the file carried).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from evergreen.files import make_private, open_private, private_dir, utf8_name

PROCESSED_DIR = ".processed"
_Where = TypeVar("_Where", bound=Path | str)  # a local path, or an object's URL in a bucket landing


@dataclass(frozen=True)
class Quarantined:
    file: Path | None  # None when the file was deliberately not copied (too large to duplicate)
    sidecar: Path


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


# A file name is at most 255 bytes; leave room for the counter and the ".reason.json" sidecar.
_NAME_BYTES = 255 - len(".reason.json") - len(".9999")


def _fitting(name: str) -> str:
    """``name`` in UTF-8 (a byte that is not becomes ``\\xff``: the path goes into the database),
    cut in its stem to fit :data:`_NAME_BYTES` (the time stamp evergreen puts in front made a
    245-byte landing name too long to quarantine, and the whole pass failed on it)."""
    name = utf8_name(name)
    raw = name.encode()
    if len(raw) <= _NAME_BYTES:
        return name
    suffix = Path(name).suffix.encode()[:16]
    stem = raw[: _NAME_BYTES - len(suffix)]
    return (stem + suffix).decode("utf-8", "ignore")  # "ignore": no character cut in two


def _free_name(directory: Path, name: str) -> Path:
    """``name`` in ``directory`` (cut to fit), with a counter before the suffix if it is taken."""
    name = _fitting(name)
    candidate = directory / name
    n = 1
    while candidate.exists() or candidate.with_name(candidate.name + ".reason.json").exists():
        candidate = directory / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return candidate


def quarantine(
    source: Path,
    quarantine_dir: Path,
    at: datetime,
    record: dict[str, Any],
    *,
    move: bool,
    copy: bool = True,
    original: str | None = None,
) -> Quarantined:
    """Move or copy ``source`` into ``quarantine_dir`` and write the reason sidecar next to it.

    ``copy=False`` writes only the sidecar (used for files refused as too large: duplicating a
    gigabyte on disk to explain that it was too big helps nobody; the sidecar names the original).
    """
    private_dir(quarantine_dir)
    dest = _free_name(quarantine_dir, f"{_stamp(at)}-{source.name}")
    stored: Path | None = dest
    if move:
        shutil.move(source, dest)
    elif copy:
        shutil.copyfile(source, dest)
    else:
        stored = None
    if stored is not None:
        _processed_now(stored, at)
    sidecar = dest.with_name(dest.name + ".reason.json")
    body = {
        **record,
        "original": original or str(source),
        "quarantined_file": None if stored is None else str(stored),
    }
    with open_private(sidecar, "w") as f:
        f.write(json.dumps(body, indent=2, default=str) + "\n")
    return Quarantined(file=stored, sidecar=sidecar)


def _processed_now(path: Path, at: datetime) -> None:
    """Owner-only, and dated when evergreen took it: retention counts from then."""
    make_private(path)
    with contextlib.suppress(OSError):
        if not path.is_symlink():
            ts = at.timestamp()
            os.utime(path, (ts, ts))


def move_processed(source: Path, landing: Path, at: datetime) -> Path:
    """Move an accepted or duplicate landing file to ``<landing>/.processed/``."""
    target_dir = private_dir(landing / PROCESSED_DIR)
    dest = target_dir / source.name
    if dest.exists():
        dest = _free_name(target_dir, f"{_stamp(at)}-{source.name}")
    shutil.move(source, dest)
    _processed_now(dest, at)
    return dest


def expired(entries: Iterable[tuple[_Where, float]], now: datetime, days: float) -> list[_Where]:
    """Which of (path, mtime) are older than ``days`` at ``now`` (pure)."""
    cutoff = (now - timedelta(days=days)).timestamp()
    return [p for p, mtime in entries if mtime < cutoff]


def aged_files(directories: Iterable[Path]) -> list[tuple[Path, float]]:
    """(path, mtime) of the files and links (never followed) directly in ``directories``; a missing
    directory or a file gone meanwhile is skipped."""
    entries = []
    for d in directories:
        if not d.is_dir():
            continue
        for p in d.iterdir():
            with contextlib.suppress(OSError):
                st = p.lstat()
                if not p.is_dir() or p.is_symlink():
                    entries.append((p, st.st_mtime))
    return entries


def remove_expired(directories: Iterable[Path], now: datetime, days: float) -> list[Path]:
    """Delete the files (never following a link) in ``directories`` older than ``days``; return them."""
    removed = []
    for p in expired(aged_files(directories), now, days):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed
