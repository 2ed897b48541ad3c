"""Parquet snapshots of accepted batches, written so that a crash never leaves a half file in use.

The frame is first written to a hidden temporary name in the data directory (same filesystem, so the
final ``os.replace`` is atomic); only the renamed file is ever recorded in the ``batches`` table.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evergreen.files import FILE_MODE, private_dir

_CHUNK = 1024 * 1024


def content_hash(path: Path) -> str:
    """SHA-256 of the file bytes, streamed so large files are never held in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_name(batch_id: int, file_hash: str) -> str:
    return f"{batch_id:06d}-{file_hash[:12]}.parquet"


def write_temp(frame: pd.DataFrame, data_dir: Path) -> Path:
    """Write ``frame`` to a temporary Parquet file in ``data_dir`` and fsync it."""
    private_dir(data_dir)
    tmp = data_dir / f".tmp-{uuid.uuid4().hex}.parquet"
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        # Created empty and owner-only first: the snapshot holds customer rows.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        pq.write_table(table, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def publish(tmp: Path, final: Path) -> Path:
    """Atomically give the temporary snapshot its final name."""
    os.replace(tmp, final)
    return final


def read_snapshot(path: Path | str) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()
