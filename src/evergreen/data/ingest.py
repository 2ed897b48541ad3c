"""Ingest batch files: hash → dedupe → read → PII → contract → validate → snapshot + ``batches`` row.

A bad file never raises: it is quarantined (file + ``.reason.json`` sidecar + a ``quarantined`` row)
and reported in its :class:`IngestResult`, so one bad file in the landing directory does not stop the
others. That holds for a failure no check foresaw in reading and checking a file too (reason
``ingest_error``, the cause in the message, scrubbed of PII). Configuration problems (e.g. a missing
PII salt), the database and the machine (a full disk) do raise, because every file would fail the
same way and the fix is not in the data (:func:`file_at_fault`).

The snapshot is written to a temporary file before the transaction opens, and the accepted row, the
snapshot's final name and (for the first batch) the contract are committed together.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from evergreen.config import Settings
from evergreen.data import catalog, snapshot
from evergreen.data.checks import scrubbed
from evergreen.data.contract import Contract, ValidationResult, check_batch, infer_contract
from evergreen.data.pii import apply_pii
from evergreen.data.quarantine import PROCESSED_DIR, move_processed, quarantine, remove_expired
from evergreen.data.read import bad_file_name, read_batch
from evergreen.data.scrub import scrub_text
from evergreen.errors import DataValidationError, EvergreenError, one_line
from evergreen.files import utf8_name
from evergreen.logs import get_logger
from evergreen.store.engine import Store, utcnow

log = get_logger(__name__)
_MB = 1024 * 1024
# Another process stored a (different) contract while we validated: validate again, a few times.
_CONTRACT_RACE_RETRIES = 3


@dataclass(frozen=True)
class IngestResult:
    source: str
    status: str  # accepted | quarantined | duplicate
    batch_id: int | None
    rows: int
    labelled_rows: int
    reason: str | None
    message: str  # one line, starts with the file name
    column: str | None = None
    path: str | None = None  # snapshot (accepted) or quarantined file / sidecar
    notes: tuple[str, ...] = ()

    @property
    def quarantined(self) -> bool:
        return self.status == "quarantined"


class _ContractChanged(Exception):
    """The stored contract changed between validation and commit."""


def _contract_id(loaded: tuple[int, Contract] | None) -> int | None:
    return None if loaded is None else loaded[0]


def _timestamp_bounds(frame: pd.DataFrame, column: str | None) -> tuple[datetime | None, datetime | None]:
    if not column or frame[column].isna().all():
        return None, None
    return frame[column].min().to_pydatetime(), frame[column].max().to_pydatetime()


def _record_unaccepted(
    store: Store,
    src: str,
    file_hash: str,
    now: datetime,
    *,
    status: str,
    reason: str,
    details: dict[str, Any],
    message: str,
    column: str | None = None,
    stored: str | None = None,
) -> IngestResult:
    """Insert the ``batches`` row of a file that stored no rows, and report it."""
    with store.begin() as conn:
        batch_id = catalog.insert_batch(
            conn,
            store.project,
            source=src,
            content_hash=file_hash,
            rows=0,
            labelled_rows=0,
            status=status,
            reason=reason,
            details=details,
            path=stored,
            received_at=now,
        )
    return IngestResult(
        source=src,
        status=status,
        batch_id=batch_id,
        rows=0,
        labelled_rows=0,
        reason=reason,
        message=message,
        column=column,
        path=stored,
    )


def _duplicate(
    store: Store, path: Path, src: str, file_hash: str, original: int, now: datetime
) -> IngestResult:
    return _record_unaccepted(
        store,
        src,
        file_hash,
        now,
        status="duplicate",
        reason=f"duplicate_of:{original}",
        details={"duplicate_of": original},
        message=f"{path.name}: same content as batch {original}, nothing stored",
    )


def _reject(
    settings: Settings,
    store: Store,
    path: Path,
    file_hash: str,
    exc: DataValidationError,
    now: datetime,
    *,
    move: bool,
    src: str,
    copy: bool = True,
) -> IngestResult:
    details = dict(exc.details or {})
    record = {
        "reason": exc.reason,
        "file": utf8_name(path.name),
        "column": exc.column,
        "message": exc.message,
        "details": details,
    }
    # A file refused as too large is not duplicated, a link is not followed: only the sidecar is kept.
    link = exc.reason == "symlink"
    q = quarantine(
        path,
        settings.storage.quarantine_dir,
        now,
        record,
        move=move and not link,
        copy=copy and exc.reason not in ("file_too_large", "symlink"),
        original=src,
    )
    if link and move:
        path.unlink(missing_ok=True)  # the link itself, never its target
    return _record_unaccepted(
        store,
        src,
        file_hash,
        now,
        status="quarantined",
        reason=exc.reason,
        details={**details, "message": exc.message, "sidecar": str(q.sidecar)},
        message=exc.message,
        column=exc.column,
        stored=str(q.file or q.sidecar),
    )


def _commit(
    settings: Settings,
    store: Store,
    path: Path,
    src: str,
    file_hash: str,
    result: ValidationResult,
    loaded: tuple[int, Contract] | None,
    now: datetime,
) -> IngestResult | int:
    """Store the accepted batch; returns the id of an accepted twin instead if one appeared meanwhile."""
    frame, contract = result.frame, result.contract
    tmp = snapshot.write_temp(frame, settings.storage.data_dir)
    final: Path | None = None
    try:
        with store.begin() as conn:
            twin = catalog.accepted_with_hash(conn, store.project, file_hash)
            if twin is not None:
                return twin
            current = catalog.load_contract(conn, store.project)
            if _contract_id(current) != _contract_id(loaded):
                raise _ContractChanged
            low, high = _timestamp_bounds(frame, contract.timestamp_column)
            batch_id = catalog.insert_batch(
                conn,
                store.project,
                source=src,
                content_hash=file_hash,
                rows=len(frame),
                labelled_rows=result.labelled_rows,
                status="accepted",
                reason=None,
                details={
                    "notes": list(result.notes),
                    "dropped_columns": [scrubbed(c) for c in result.dropped_columns],
                    "new_categories": {
                        c: [scrubbed(v) for v in values] for c, values in result.new_categories.items()
                    },
                    "duplicates_dropped": result.duplicates_dropped,
                },
                min_timestamp=low,
                max_timestamp=high,
                received_at=now,
            )
            final = snapshot.publish(
                tmp, settings.storage.data_dir / snapshot.snapshot_name(batch_id, file_hash)
            )
            catalog.set_batch_path(conn, batch_id, str(final))
            if loaded is None or loaded[1] != contract:
                catalog.save_contract(conn, store.project, contract, batch_id, now)
    except BaseException:
        # The row was rolled back, so a published snapshot would be an orphan: remove it.
        if final is not None:
            final.unlink(missing_ok=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    notes = "".join(f"; {n}" for n in result.notes)
    return IngestResult(
        source=src,
        status="accepted",
        batch_id=batch_id,
        rows=len(frame),
        labelled_rows=result.labelled_rows,
        reason=None,
        message=f"{path.name}: accepted {len(frame)} rows ({result.labelled_rows} labelled) "
        f"as batch {batch_id}{notes}",
        path=str(final),
        notes=result.notes,
    )


def _validated(
    settings: Settings, store: Store, path: Path, env: Mapping[str, str], pii_applied: bool = False
) -> tuple[ValidationResult, tuple[int, Contract] | None]:
    pii = settings.data.pii
    if pii_applied:  # drop and scrub are idempotent, a second hash is not
        pii = pii.model_copy(update={"hash": ()})
    frame = apply_pii(read_batch(path, settings.data.max_file_mb), pii, env)
    with store.connect() as conn:
        loaded = catalog.load_contract(conn, store.project)
    contract = loaded[1] if loaded else infer_contract(frame, settings, path.name)
    return check_batch(frame, contract, settings, path.name), loaded


def _checked(
    settings: Settings, store: Store, path: Path, env: Mapping[str, str], pii_applied: bool
) -> tuple[ValidationResult, tuple[int, Contract] | None]:
    """:func:`_validated`, where a failure no check foresaw in this file's reading, PII handling or
    contract checks becomes a refusal (``ingest_error``, the cause scrubbed of PII): the file is set
    aside like any bad file rather than failing the pass, and every later one, from the landing.
    Storing an accepted batch is not covered: a failure there is the database's or the disk's."""
    try:
        return _validated(settings, store, path, env, pii_applied)
    except DataValidationError:
        raise
    except Exception as exc:
        if not file_at_fault(exc):
            raise
        cause = scrub_text(one_line(exc))
        log.error("ingest_failed", file=utf8_name(path.name), error=cause)
        raise DataValidationError(
            f"{utf8_name(path.name)}: could not be ingested: {cause[:300]}",
            reason="ingest_error",
            file=utf8_name(path.name),
        ) from None


def ingest_file(
    settings: Settings,
    store: Store,
    path: Path,
    env: Mapping[str, str],
    *,
    move: bool,
    pii_applied: bool = False,
    source: str | None = None,
) -> IngestResult:
    """Ingest one file. ``move`` (landing directory) moves it away afterwards; otherwise it is copied.
    ``pii_applied``: the rows were put through ``data.pii`` already (feedback batches).
    ``source``: what the batch row records when it is not ``path`` (an object-store URL, ``path``
    then being a downloaded copy): refused, it is quarantined by its sidecar alone, the bytes staying
    in the store."""
    now = utcnow()
    src = utf8_name(str(path)) if source is None else source
    if (bad_name := bad_file_name(path.name)) is not None:
        # It stopped the whole landing pass, every pass, the good files after it included.
        return _reject(settings, store, path, "", bad_name, now, move=move, src=src, copy=source is None)
    if move and path.is_symlink():
        # Never followed: a link in the landing dir could make evergreen read (and keep a copy of)
        # any file the process can read.
        exc = DataValidationError(
            f"{path.name}: is a symbolic link; evergreen ingests only regular files",
            reason="symlink",
            file=path.name,
        )
        return _reject(settings, store, path, "", exc, now, move=move, src=src)
    if not path.is_file():
        return IngestResult(
            source=src,
            status="quarantined",
            batch_id=None,
            rows=0,
            labelled_rows=0,
            reason="file_not_found",
            # A directory is named too: "file not found" for one that exists misled.
            message=(
                f"{path.name}: is a directory, not a file; name its files (no PATH ingests the landing dir)"
                if path.is_dir()
                else f"{path.name}: file not found ({path})"
            ),
        )
    # Hashing reads every byte: refuse oversized files by their size alone, before anything else.
    too_large = path.stat().st_size > settings.data.max_file_mb * _MB
    file_hash = "" if too_large else snapshot.content_hash(path)
    outcome: IngestResult | int | None = None
    try:
        for _ in range(_CONTRACT_RACE_RETRIES):
            twin = None if too_large else _accepted_twin(store, file_hash)
            if twin is not None:
                outcome = twin
                break
            result, loaded = _checked(settings, store, path, env, pii_applied)
            try:
                outcome = _commit(settings, store, path, src, file_hash, result, loaded, now)
                break
            except _ContractChanged:
                continue
    except DataValidationError as exc:
        return _reject(settings, store, path, file_hash, exc, now, move=move, src=src, copy=source is None)
    if outcome is None:
        raise RuntimeError(f"{path.name}: the data contract kept changing during ingest; try again")
    if isinstance(outcome, int):
        outcome = _duplicate(store, path, src, file_hash, outcome, now)
    if move and settings.data.landing_dir is not None:
        move_processed(path, settings.data.landing_dir, now)
    return outcome


# Failures of the machine, not of the file: they propagate (the pass fails and is tried again),
# instead of setting a good file aside.
_MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.ENOMEM})


def file_at_fault(exc: BaseException) -> bool:
    """Whether an unexpected error while ingesting a file is the file's (quarantine it) rather than
    the configuration's, the database's or the machine's (raise: every file would fail the same)."""
    if isinstance(exc, EvergreenError | SQLAlchemyError | MemoryError):
        return False
    return not (isinstance(exc, OSError) and exc.errno in _MACHINE_ERRNOS)


def refuse_unread(
    settings: Settings, store: Store, name: str, source: str, exc: DataValidationError
) -> IngestResult:
    """Quarantine (sidecar only) and record a file refused before it was read, e.g. too large to
    download from an object store."""
    return _reject(settings, store, Path(name), "", exc, utcnow(), move=False, src=source, copy=False)


def _accepted_twin(store: Store, file_hash: str) -> int | None:
    with store.connect() as conn:
        return catalog.accepted_with_hash(conn, store.project, file_hash)


def ingest_paths(
    settings: Settings,
    store: Store,
    paths: Sequence[Path],
    env: Mapping[str, str] | None = None,
    *,
    pii_applied: bool = False,
) -> list[IngestResult]:
    """Ingest files named by the user; they are copied (never moved) into quarantine when rejected."""
    env = os.environ if env is None else env
    out = [ingest_file(settings, store, Path(p), env, move=False, pii_applied=pii_applied) for p in paths]
    prune_processed(settings, utcnow())
    return out


def prune_processed(settings: Settings, now: datetime) -> list[Path]:
    """Delete ingested landing files and quarantine files older than ``retention.processed_days``
    (local ones: an object-store landing is pruned by ``evergreen gc``)."""
    landing = settings.data.landing_dir
    dirs = [settings.storage.quarantine_dir]
    if landing is not None:
        dirs.insert(0, landing / PROCESSED_DIR)
    return remove_expired(dirs, now, settings.retention.processed_days)


def summary(results: Sequence[IngestResult]) -> dict[str, Any]:
    """Counts per status, for CLI/JSON output."""
    out: dict[str, Any] = {"accepted": 0, "quarantined": 0, "duplicate": 0}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    out["rows"] = sum(r.rows for r in results)
    return out
