"""What "current" means: a sliding window of the prediction log, or one ingested batch.

``parse_window`` is pure; the loaders are the only SQL of the monitoring component. Prediction rows
are joined with their feedback here (the newest label wins when a prediction got several), so every
consumer sees one row per prediction with ``label`` None until ground truth arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from evergreen.config import WINDOW_UNIT_SECONDS, read_window
from evergreen.data.snapshot import read_snapshot
from evergreen.errors import BadInputError, NotFoundError, StoreError
from evergreen.store.engine import Store, as_utc
from evergreen.store.tables import batches, feedback, predictions

PREDICTION_COLUMNS = ("id", "created_at", "model_version", "record", "prediction", "probabilities", "label")


@dataclass(frozen=True)
class WindowSpec:
    text: str  # canonical: "7d", "24h", "batch:12"
    duration: timedelta | None = None
    batch_id: int | None = None

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """(start, end] of a sliding window ending at ``now``."""
        if self.duration is None:
            raise ValueError("a batch window has no time bounds")
        return now - self.duration, now


def parse_window(text: str, source: str = "--window") -> WindowSpec:
    """``7d``, ``24h``, ``90m``, ``2w``, ``45s``; a batch id as ``12`` or ``batch:12``.

    ``source`` names where the text came from in the error (the option, or a config key).
    """
    try:
        amount, unit = read_window(text)
    except ValueError as exc:
        raise BadInputError(f"{source} {text!r}: {exc}") from None
    if unit == "batch":
        return WindowSpec(f"batch:{amount}", batch_id=amount)
    return WindowSpec(f"{amount}{unit}", duration=timedelta(seconds=amount * WINDOW_UNIT_SECONDS[unit]))


def load_predictions(store: Store, start: datetime, end: datetime, role: str = "champion") -> pd.DataFrame:
    """Prediction rows with ``start < created_at <= end``, oldest first, each with its newest label."""
    p, f = predictions, feedback
    query = (
        select(
            p.c.id,
            p.c.created_at,
            p.c.model_version,
            p.c.record,
            p.c.prediction,
            p.c.probabilities,
            f.c.label,
            f.c.id.label("feedback_id"),
        )
        .select_from(p.outerjoin(f, (f.c.prediction_id == p.c.id) & (f.c.project == p.c.project)))
        .where(p.c.project == store.project, p.c.role == role, p.c.created_at > start, p.c.created_at <= end)
        .order_by(p.c.created_at, p.c.id, f.c.id)
    )
    with store.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=[*PREDICTION_COLUMNS, "feedback_id"])
    if frame.empty:
        return frame.drop(columns=["feedback_id"])
    # Several feedback rows for one prediction: the last one (highest id) is the correction that counts.
    frame = frame.drop_duplicates(subset=["id"], keep="last").drop(columns=["feedback_id"])
    frame["created_at"] = [as_utc(t) for t in frame["created_at"]]
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class BatchWindow:
    batch_id: int
    frame: pd.DataFrame  # the snapshot: id, timestamp, features, target (labels may be null)


def load_batch(store: Store, batch_id: int) -> BatchWindow:
    """An accepted batch's snapshot, the current data of a ``batch:ID`` window."""
    with store.connect() as conn:
        row = conn.execute(
            select(batches.c.id, batches.c.status, batches.c.path).where(
                batches.c.project == store.project, batches.c.id == batch_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"--window batch:{batch_id}: no such batch", details={"batch_id": batch_id})
    if row.status != "accepted":
        raise BadInputError(f"--window batch:{batch_id}: the batch is {row.status}, not accepted")
    if not row.path or not Path(row.path).is_file():
        raise StoreError(f"snapshot of batch {batch_id} is missing: {row.path}")
    return BatchWindow(batch_id, read_snapshot(row.path))


def records_frame(records: list[Any]) -> pd.DataFrame:
    """The ``record`` JSON objects as columns; a record that is not an object counts as empty."""
    return pd.DataFrame.from_records([r if isinstance(r, dict) else {} for r in records])
