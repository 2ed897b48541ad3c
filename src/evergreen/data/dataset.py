"""Assemble the training set from accepted batches, and split off the holdout.

The result is a pure function of the stored snapshots, the window settings and ``as_of``: rows come
out in a canonical order (batch id, then row position) and the version is a hash of what was
selected, so two assemblies of the same data have the same version and the same holdout - which is
what lets a candidate and the champion be compared on identical rows, and a run be reproduced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from evergreen.config import Settings
from evergreen.data import catalog
from evergreen.data.contract import Contract
from evergreen.data.contract import feature_kinds as feature_kinds  # re-exported: callers import it here
from evergreen.data.snapshot import read_snapshot
from evergreen.errors import DataValidationError, StoreError
from evergreen.store.engine import Store, as_utc, utcnow

_BATCH = "__evergreen_batch"
_ROW = "__evergreen_row"
_TIME = "__evergreen_time"


@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame  # contract columns (id, timestamp, features, target), canonical order
    version: str
    batch_ids: tuple[int, ...]
    rows: int
    contract: Contract
    as_of: datetime
    # Per row of ``frame`` (by position): the batch it came from and when it was seen (its timestamp,
    # else its batch's arrival), so the newest data's rows can be told apart (promotion.recent).
    row_batches: np.ndarray | None = None
    row_times: np.ndarray | None = None


def _no_data(why: str) -> DataValidationError:
    return DataValidationError(f"no training data: {why}", reason="no_training_data")


def _batch_rows(
    batch: catalog.BatchRow, contract: Contract, start: datetime | None, as_of: datetime
) -> pd.DataFrame:
    if not batch.path or not Path(batch.path).is_file():
        raise StoreError(f"snapshot of batch {batch.id} is missing: {batch.path}")
    frame = read_snapshot(batch.path)[list(contract.columns)]
    frame[_BATCH] = batch.id
    frame[_ROW] = range(len(frame))
    ts = contract.timestamp_column
    # Rows without their own timestamp count as seen when their batch arrived.
    frame[_TIME] = (
        frame[ts].fillna(pd.Timestamp(batch.received_at)) if ts else pd.Timestamp(batch.received_at)
    )
    keep = frame[contract.target].notna() & (frame[_TIME] <= as_of)
    if start is not None:
        keep &= frame[_TIME] >= start
    return frame[keep]


def _in_window(batch: catalog.BatchRow, use_rows: bool, start: datetime | None, as_of: datetime) -> bool:
    """Cheap batch-level filter before any Parquet is read."""
    if not use_rows:
        return batch.received_at <= as_of and (start is None or batch.received_at >= start)
    if batch.min_timestamp is not None and batch.min_timestamp > as_of:
        return False
    return not (start is not None and batch.max_timestamp is not None and batch.max_timestamp < start)


def _dedupe(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    if contract.id_column is None:
        return frame.drop_duplicates(subset=list(contract.columns), keep="first")
    ordered = frame.sort_values([_BATCH, _TIME, _ROW], kind="stable")
    has_id = ordered[contract.id_column].notna()
    latest = ordered[has_id].drop_duplicates(subset=[contract.id_column], keep="last")
    return pd.concat([latest, ordered[~has_id]])


def _version(frame: pd.DataFrame, hashes: list[str]) -> str:
    rows = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    body = json.dumps(
        {
            "batches": sorted(hashes),
            "rows": rows,
            "columns": [[str(c), str(t)] for c, t in frame.dtypes.items()],
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def assemble_dataset(
    settings: Settings, store: Store, as_of: datetime | None = None, batch_ids: Sequence[int] | None = None
) -> Dataset:
    """Labelled rows of the accepted batches inside ``data.window`` as of ``as_of`` (default: now).

    ``batch_ids`` rebuilds an earlier run's dataset (with that run's ``as_of``): only those batches.
    """
    as_of = as_utc(as_of) or utcnow()
    with store.connect() as conn:
        loaded = catalog.load_contract(conn, store.project)
        batches = catalog.labelled_batches(conn, store.project)
    if batch_ids is not None:
        wanted = set(batch_ids)
        batches = [b for b in batches if b.id in wanted]
    if loaded is None or not batches:
        raise _no_data("no accepted batch with labelled rows has been ingested")
    contract = loaded[1]
    window = settings.data.window
    start = None if window.max_age_days is None else as_of - timedelta(days=window.max_age_days)
    use_rows = contract.timestamp_column is not None

    parts = [
        part
        for b in batches
        if _in_window(b, use_rows, start, as_of)
        if len(part := _batch_rows(b, contract, start, as_of))
    ]
    if window.max_batches is not None:
        parts = parts[-window.max_batches :] if window.max_batches > 0 else []
    if not parts:
        raise _no_data(f"no labelled rows inside the window (as of {as_of:%Y-%m-%d %H:%M} UTC)")
    frame = _dedupe(pd.concat(parts, ignore_index=True), contract)
    frame = frame.sort_values([_BATCH, _ROW], kind="stable")
    batch_ids = tuple(sorted(int(b) for b in frame[_BATCH].unique()))
    row_batches = frame[_BATCH].to_numpy(dtype=np.int64)
    row_times = pd.to_datetime(frame[_TIME], utc=True).to_numpy()
    frame = frame.drop(columns=[_BATCH, _ROW, _TIME]).reset_index(drop=True)
    target = contract.target
    if str(frame[target].dtype) in ("Int64", "boolean"):
        # No nulls are left in the target: hand estimators a plain numpy dtype, not a nullable one.
        frame[target] = frame[target].astype("int64" if str(frame[target].dtype) == "Int64" else "bool")
    by_id = {b.id: b.content_hash for b in batches}
    return Dataset(
        frame=frame,
        version=_version(frame, [by_id[b] for b in batch_ids]),
        batch_ids=batch_ids,
        rows=len(frame),
        contract=contract,
        as_of=as_of,
        row_batches=row_batches,
        row_times=row_times,
    )


def holdout_mask(
    frame: pd.DataFrame, key_columns: Sequence[str], holdout_fraction: float, seed: int
) -> np.ndarray:
    """True for rows in the holdout: a seeded hash of each row's key falls below the fraction.

    The rule looks at one row at a time, so a row is in the holdout of every dataset version that
    contains it. A champion trained on an earlier version has therefore never seen any row of the
    current holdout, which an ordinary random split of each new version cannot promise.
    """
    key = hashlib.sha256(f"evergreen-holdout:{seed}".encode()).hexdigest()[:16]
    hashed = pd.util.hash_pandas_object(frame[list(key_columns)], index=False, hash_key=key)
    unit = hashed.to_numpy(dtype=np.uint64) / float(2**64)
    return np.asarray(unit < holdout_fraction)


def split_holdout(
    dataset: Dataset, holdout_fraction: float, seed: int, task: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): seeded, and stable per row across dataset versions (see :func:`holdout_mask`).

    Rows are keyed by the id column when there is one, else by their content. Every class is split
    by the same independent per-row rule, so each class's holdout share is ``holdout_fraction`` in
    expectation (stratified by construction) without a row ever changing sides between versions.
    """
    frame = dataset.frame
    contract = dataset.contract
    n = len(frame)
    if contract.id_column and contract.id_column in frame.columns:
        keys: list[str] = [contract.id_column]
    else:
        keys = [c for c in (*contract.feature_names, contract.target) if c in frame.columns]
    mask = holdout_mask(frame, keys, holdout_fraction, seed)
    n_holdout = int(mask.sum())
    if n < 2 or n_holdout == 0 or n_holdout == n:
        raise DataValidationError(
            f"too few rows to split off a holdout: {n} rows, holdout_fraction {holdout_fraction}",
            reason="too_few_rows",
        )
    if task != "regression" and frame.loc[~mask, contract.target].nunique() < 2:
        raise DataValidationError(
            "too few rows to split off a holdout: the training part would hold a single class",
            reason="too_few_rows",
        )
    return frame.loc[~mask], frame.loc[mask]
