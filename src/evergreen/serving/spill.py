"""The local append-only spill file of the prediction log, used while the database is unreachable.

One JSON object per line, flushed and fsynced per append, so records survive a crash of the process.
Replay renames the file first (appends then go to a fresh file), inserts the renamed file's records and
deletes it only after they are committed; inserts are idempotent by prediction id, so a replay cut
short is simply done again. A torn last line (crash mid-write) is skipped, and counted.

Rows are encoded as strict JSON (no NaN/Infinity): a row that cannot be is not a spill row but a
dead letter. The :class:`DeadLetterFile` keeps rows the database refused for a reason of their own,
with that reason, so one poison row never blocks the rows around it. Both files are 0600.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from evergreen.files import open_private, private_dir
from evergreen.logs import get_logger

log = get_logger(__name__)
Writer = Callable[[list[dict[str, Any]]], None]


class SpillFile:
    def __init__(self, path: Path, *, chunk: int = 1000) -> None:
        self.path = path
        self.chunk = chunk
        self._lock = threading.Lock()  # appends come from the writer thread and the event loop

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows (OSError when the disk refuses; ValueError for a row that is not strict JSON)."""
        data = "".join(encode(r) + "\n" for r in rows)
        _append(self.path, data, self._lock)

    def _pending_files(self) -> list[Path]:
        return sorted(self.path.parent.glob(self.path.name + ".replay-*"))

    def has_data(self) -> bool:
        return bool(self._pending_files()) or (self.path.exists() and self.path.stat().st_size > 0)

    def count(self) -> int:
        """Records waiting in the spill (for metrics and tests)."""
        return sum(1 for f in self._files() for _ in _lines(f))

    def _files(self) -> list[Path]:
        files = self._pending_files()
        return [*files, self.path] if self.path.exists() else files

    def replay(self, write: Writer) -> int:
        """Write every spilled record with ``write`` (raises on failure); return how many were written."""
        with self._lock:
            if self.path.exists() and self.path.stat().st_size > 0:
                self.path.rename(self.path.with_name(f"{self.path.name}.replay-{time.time_ns()}"))
        done = 0
        for f in self._pending_files():
            batch: list[dict[str, Any]] = []
            for row in _lines(f):
                batch.append(row)
                if len(batch) >= self.chunk:
                    write(batch)
                    done += len(batch)
                    batch = []
            if batch:
                write(batch)
                done += len(batch)
            f.unlink()
        return done


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                log.error("spill_line_unreadable", file=str(path), line=n)


def encode(row: dict[str, Any]) -> str:
    """One row as strict JSON: ValueError on NaN/Infinity (PostgreSQL refuses them in a json column)."""
    return json.dumps(row, default=str, separators=(",", ":"), allow_nan=False)


def _append(path: Path, data: str, lock: threading.Lock) -> None:
    private_dir(path.parent)
    with lock, open_private(path, "a") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _printable(value: Any) -> Any:
    """A dead row as JSON whatever it holds: non-finite numbers become text, so the file stays JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


class DeadLetterFile:
    """Rows that can never be stored, one JSON object per line: ``{"reason", "at", "row"}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, rows: Sequence[dict[str, Any]], reason: str) -> None:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data = "".join(
            json.dumps({"reason": reason, "at": at, "row": _printable(r)}, default=str, allow_nan=False)
            + "\n"
            for r in rows
        )
        _append(self.path, data, self._lock)

    def entries(self) -> list[dict[str, Any]]:
        """Every dead row with its reason (for tests and operators)."""
        return list(_lines(self.path)) if self.path.exists() else []
