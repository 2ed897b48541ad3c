"""The local append-only spill file of the prediction log, used while the database is unreachable.

One JSON object per line, flushed and fsynced per append, so records survive a crash of the process.
Replay renames the file first (appends then go to a fresh file), inserts the renamed file's records and
deletes it only after they are committed; inserts are idempotent by prediction id, so a replay cut
short is simply done again. A torn last line (crash mid-write) is skipped, and counted.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from evergreen.logs import get_logger

log = get_logger(__name__)
Writer = Callable[[list[dict[str, Any]]], None]


class SpillFile:
    def __init__(self, path: Path, *, chunk: int = 1000) -> None:
        self.path = path
        self.chunk = chunk
        self._lock = threading.Lock()  # appends come from the writer thread and the event loop

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, default=str, separators=(",", ":")) + "\n" for r in rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

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
