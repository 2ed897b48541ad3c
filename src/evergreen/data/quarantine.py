"""Where processed files go: rejected ones to quarantine (with a reason sidecar), others aside.

A quarantined file is the user's own bytes, kept as-is so they can inspect and fix it; the sidecar
``<name>.reason.json`` says why it was refused. Files named on the command line are copied (the user
still owns the original); files picked up from the landing directory are moved, so they are not
ingested again on the next scan.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

PROCESSED_DIR = ".processed"


@dataclass(frozen=True)
class Quarantined:
    file: Path | None  # None when the file was deliberately not copied (too large to duplicate)
    sidecar: Path


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


def _free_name(directory: Path, name: str) -> Path:
    """``name`` in ``directory``, with a counter before the suffix if it is taken."""
    candidate = directory / name
    n = 1
    while candidate.exists() or candidate.with_name(candidate.name + ".reason.json").exists():
        candidate = directory / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return candidate


def quarantine(
    source: Path, quarantine_dir: Path, at: datetime, record: dict[str, Any], *, move: bool, copy: bool = True
) -> Quarantined:
    """Move or copy ``source`` into ``quarantine_dir`` and write the reason sidecar next to it.

    ``copy=False`` writes only the sidecar (used for files refused as too large: duplicating a
    gigabyte on disk to explain that it was too big helps nobody; the sidecar names the original).
    """
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    dest = _free_name(quarantine_dir, f"{_stamp(at)}-{source.name}")
    stored: Path | None = dest
    if move:
        shutil.move(source, dest)
    elif copy:
        shutil.copy2(source, dest)
    else:
        stored = None
    sidecar = dest.with_name(dest.name + ".reason.json")
    body = {**record, "original": str(source), "quarantined_file": None if stored is None else str(stored)}
    sidecar.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    return Quarantined(file=stored, sidecar=sidecar)


def move_processed(source: Path, landing: Path, at: datetime) -> Path:
    """Move an accepted or duplicate landing file to ``<landing>/.processed/``."""
    target_dir = landing / PROCESSED_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / source.name
    if dest.exists():
        dest = _free_name(target_dir, f"{_stamp(at)}-{source.name}")
    shutil.move(source, dest)
    return dest
