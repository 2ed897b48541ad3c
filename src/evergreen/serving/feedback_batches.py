"""Labelled feedback becomes training data: assemble it into a batch that the core loop ingests.

Each labelled feedback row gives one training row: the logged input record of its prediction (or the
record sent with the label) plus the label in the target column. The id column defaults to the
prediction id and the timestamp column to the prediction's time, so the batch satisfies the data
contract. The batch goes through the normal ingest (validation, PII, snapshot, ``batches`` row), and
the feedback rows are marked with the batch id so they are used once. The batch file is deleted
once ingested: its rows live on in the snapshot (or the quarantine copy).

Record ids are canonical strings, as ingest makes them (``7``, ``7.0`` and ``"7"`` are ``"7"``).
A record the data contract refuses on its own would fail the whole batch: its own timestamp cannot
be read (``"not a time"``), or a value no longer fits its column (a record logged under an older
model: text for a number, a nested object, ``inf``, a category the contract does not take, a label
that is not a class). That feedback row alone is set aside (marked with batch id 0, kept in the
feedback table, and logged with the reason) and the others are assembled. The other columns are
written in the types ingest makes of them (numbers as floats, text as canonical strings), and the
columns outside the contract (which ingest drops) are left out: a 25-digit integer logged before the
log made it a float could not be written to the batch file, and failed every round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import and_, select, update

from evergreen.config import Settings
from evergreen.data import catalog
from evergreen.data.checks import to_strings, to_timestamps
from evergreen.data.contract import ColumnSpec, Contract
from evergreen.data.ingest import IngestResult, file_at_fault, ingest_paths
from evergreen.data.validate import check_target_values, check_values
from evergreen.data.values import canonical_str
from evergreen.errors import DataValidationError, one_line
from evergreen.files import make_private, private_dir
from evergreen.logs import get_logger
from evergreen.store.engine import Store, as_utc, utcnow
from evergreen.store.tables import feedback, predictions

log = get_logger(__name__)
SET_ASIDE_BATCH = 0  # the batch id of feedback rows no batch could take (their record cannot be ingested)


def pending_feedback(store: Store) -> list[dict[str, Any]]:
    """Labelled feedback not yet in a batch, with the logged record and time of its prediction."""
    q = (
        select(
            feedback.c.id,
            feedback.c.prediction_id,
            feedback.c.record,
            feedback.c.label,
            feedback.c.received_at,
            predictions.c.record.label("logged_record"),
            predictions.c.created_at.label("predicted_at"),
        )
        .select_from(
            feedback.outerjoin(
                predictions,
                and_(
                    predictions.c.id == feedback.c.prediction_id, predictions.c.project == feedback.c.project
                ),
            )
        )
        .where(feedback.c.project == store.project, feedback.c.batch_id.is_(None))
        .order_by(feedback.c.id)
    )
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def record_time(value: Any, column: str) -> pd.Timestamp:
    """A record's own timestamp read as ingest reads it: text, or a number of epoch seconds.

    DataValidationError when the data contract cannot read it."""
    return to_timestamps(pd.Series([value]), column, "feedback").iloc[0]


def record_times(values: Mapping[int, Any], column: str) -> dict[int, pd.Timestamp | str]:
    """:func:`record_time` of many records (feedback id → its time, or why it cannot be read), read
    in one pandas call per kind: numbers are epoch seconds, text is text. One call for all would
    read the numbers of a mixed column as nanoseconds; one call per record cost ~0.3-0.5 ms a row,
    seconds of the serving process's CPU for a large batch. A kind that fails is read value by value
    to find the records at fault."""
    numbers = {i: v for i, v in values.items() if _is_number(v)}
    groups = (numbers, {i: v for i, v in values.items() if i not in numbers})
    out: dict[int, pd.Timestamp | str] = {}
    for group in groups:
        if not group:
            continue
        try:
            read = to_timestamps(pd.Series(list(group.values())), column, "feedback")
            out.update(zip(group, read, strict=True))
        except DataValidationError:
            for i, v in group.items():
                try:
                    out[i] = record_time(v, column)
                except DataValidationError as exc:
                    out[i] = one_line(exc)
    return out


def _is_number(value: Any) -> bool:
    # Inside int64 (a pandas numeric column): a larger integer makes the column text-typed.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def feedback_frame(
    rows: Sequence[dict[str, Any]], *, target: str, id_column: str | None, timestamp_column: str | None
) -> tuple[pd.DataFrame, dict[int, str]]:
    """One training row per prediction (its latest label wins), or per labelled record, indexed by
    feedback id; and the feedback rows set aside (feedback id → why): those whose record's timestamp
    cannot be read (pure)."""
    latest: dict[str, tuple[int, dict[str, Any]]] = {}  # key → (feedback id, row)
    set_aside: dict[int, str] = {}
    own_times: dict[int, pd.Timestamp | str] = {}
    if timestamp_column:
        records = ((r["id"], r.get("record") or r.get("logged_record") or {}) for r in rows)
        given = {i: rec[timestamp_column] for i, rec in records if rec.get(timestamp_column) is not None}
        own_times = record_times(given, timestamp_column)
    for r in rows:
        record = r.get("record") or r.get("logged_record")
        if not record:
            continue  # a prediction whose record is not (yet) in the log: the next assembly takes it
        key = r["prediction_id"] or f"feedback-{r['id']}"
        row = dict(record)
        row[target] = r["label"]
        if id_column:
            # Ids as ingest keeps them, canonical strings: a batch of 1, "a" and 7.0 (as clients send
            # them, and the log keeps them) is "1", "a" and "7", one column a batch file can hold.
            own = row.get(id_column)
            row[id_column] = key if own is None else canonical_str(own)
        if timestamp_column:
            when: datetime | pd.Timestamp | None
            if row.get(timestamp_column) is None:
                when = as_utc(r.get("predicted_at")) or as_utc(r["received_at"])
            else:
                read = own_times[r["id"]]
                if isinstance(read, str):  # why the data contract cannot read it
                    set_aside[r["id"]] = read
                    continue
                when = read
            row[timestamp_column] = when
        latest[key] = (r["id"], row)
    # Indexed by feedback id: a row the contract refuses is set aside by it (contract_frame).
    frame = pd.DataFrame([row for _, row in latest.values()], index=[i for i, _ in latest.values()])
    if timestamp_column and timestamp_column in frame:
        frame[timestamp_column] = pd.to_datetime(frame[timestamp_column], utc=True)
    return frame, set_aside


def contract_frame(
    frame: pd.DataFrame, contract: Contract, settings: Settings
) -> tuple[pd.DataFrame, dict[int, str]]:
    """The frame's columns of the contract, in the types ingest makes of them, less the rows whose
    own values the contract refuses; and those rows (feedback id → why) (pure).

    Each column is checked whole by ingest's own checks of a value (:func:`check_values`); a column
    that fails is checked in parts to find the rows at fault. What judges the rows together (null
    rates, duplicates, a missing column) is left to ingest.
    """
    file = "feedback"

    def feature(spec: ColumnSpec) -> Callable[[pd.Series], pd.Series]:
        return lambda v: check_values(v, spec, settings, file)[0]

    column_checks: list[tuple[str, Callable[[pd.Series], pd.Series]]] = []
    if contract.id_column:
        id_column = contract.id_column
        column_checks.append((id_column, lambda v: to_strings(v, id_column, file, "id")))
    column_checks += [(spec.name, feature(spec)) for spec in contract.features]
    if contract.task == "regression" or contract.target_classes is not None:
        column_checks.append((contract.target, lambda v: check_target_values(v, contract, settings, file)))
    set_aside: dict[int, str] = {}
    converted: dict[str, pd.Series] = {}
    for column, check in column_checks:
        if column not in frame:
            continue
        whole = _checked(check, frame[column])
        if not isinstance(whole, str):
            converted[column] = whole
            continue
        for i, why in (_at_fault(check, frame[column], _few(len(frame))) or {}).items():
            set_aside.setdefault(i, why)
    kept = frame.drop(index=list(set_aside))
    # Ingest keeps only the contract's columns: another one could hold what no batch file can.
    out = kept[[c for c in contract.columns if c in kept]].copy()
    for column, check in column_checks:
        if column in out and len(out):
            # A column that failed is checked again without its rows at fault; one that still fails
            # (no single value did) stays as it is, for ingest to judge (quarantine) the batch.
            values = converted[column] if column in converted else _checked(check, out[column])
            if not isinstance(values, str):
                out[column] = values.loc[out.index]
    return out, set_aside


def _few(rows: int) -> int:
    """How many records at fault a column may have and still be the records' fault: a tenth of the
    batch (at least 3, so a small batch's one or two bad labels do not take its good ones along), at
    most 100. Beyond it the column is at fault (the contract's type changed, a class was
    renamed, a new category everywhere): the batch is left for ingest to quarantine, visibly and
    with its reason, rather than its labels set aside one by one with a log line."""
    return min(max(3, rows // 10), 100)


def _at_fault(check: Callable[[pd.Series], pd.Series], values: pd.Series, most: int) -> dict[int, str] | None:
    """The values ``check`` refuses (feedback id → why), found by halving: a part that passes is
    cleared in one call (value by value, a bad value among 10 000 cost seconds of the server's CPU).
    None as soon as more than ``most`` are found, which also bounds the calls (about 2·most·log n)."""
    found: dict[int, str] = {}

    def walk(part: pd.Series) -> bool:
        why = _checked(check, part)
        if not isinstance(why, str):
            return True
        if len(part) == 1:
            found[int(part.index[0])] = why
            return len(found) <= most
        half = len(part) // 2
        return walk(part.iloc[:half]) and walk(part.iloc[half:])

    return found if walk(values) else None


def _checked(check: Callable[[pd.Series], pd.Series], values: pd.Series) -> pd.Series | str:
    """``check(values)``, or why it refuses them. A failure of the data's own: the machine's raises."""
    try:
        return check(values)
    except Exception as exc:
        if isinstance(exc, DataValidationError) or file_at_fault(exc):
            return one_line(exc)
        raise


def _contract(store: Store) -> Contract | None:
    with store.connect() as conn:
        loaded = catalog.load_contract(conn, store.project)
    return loaded[1] if loaded else None


def _mark(store: Store, ids: Sequence[int], batch_id: int) -> None:
    with store.begin() as conn:
        conn.execute(update(feedback).where(feedback.c.id.in_(list(ids))).values(batch_id=batch_id))


def assemble_feedback_batch(
    settings: Settings, store: Store, *, min_rows: int = 1, directory: Path | None = None
) -> IngestResult | None:
    """Ingest the pending labelled feedback as one batch (None when fewer than ``min_rows``)."""
    rows = pending_feedback(store)
    usable = [r for r in rows if r.get("record") or r.get("logged_record")]
    frame, set_aside = feedback_frame(
        usable,
        target=settings.data.target,
        id_column=settings.data.id_column,
        timestamp_column=settings.data.timestamp_column,
    )
    contract = _contract(store) if not frame.empty else None
    if contract is not None:  # none before the first batch: ingest infers it from this one
        frame, refused = contract_frame(frame, contract, settings)
        set_aside.update(refused)
    if set_aside:  # never usable: out of every batch now, so that they block none
        _mark(store, list(set_aside), SET_ASIDE_BATCH)
        first = next(iter(set_aside.items()))
        log.warning(
            "feedback_rows_set_aside",
            rows=len(set_aside),
            feedback_ids=list(set_aside)[:50],
            reason=first[1],
        )
        usable = [r for r in usable if r["id"] not in set_aside]
    if len(usable) < min_rows or frame.empty:
        return None
    out_dir = private_dir(directory or settings.state_dir / "feedback")
    path = out_dir / f"feedback-{utcnow():%Y%m%dT%H%M%S%f}.parquet"
    try:
        frame.to_parquet(path, index=False)
        make_private(path)
        # The records were put through data.pii when they were logged: hashing them again would
        # break the joins with ingested batches.
        result = ingest_paths(settings, store, [path], pii_applied=True)[0]
    finally:
        path.unlink(missing_ok=True)  # ingested (snapshot) or quarantined (copy): not kept twice
    batch_id = result.batch_id if result.batch_id is not None else SET_ASIDE_BATCH
    _mark(store, [r["id"] for r in usable], batch_id)
    log.info(
        "feedback_batch_ingested",
        rows=len(frame),
        status=result.status,
        batch_id=result.batch_id,
        reason=result.reason,
    )
    return result
