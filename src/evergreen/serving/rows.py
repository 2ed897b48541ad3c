"""Prediction-log rows: what is stored for each scored record (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from evergreen.serving.model import Scored
from evergreen.store.engine import utcnow


def new_ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def prediction_rows(
    project: str,
    records: Sequence[dict[str, Any]],
    scored: Scored,
    *,
    latency_ms: float | None,
    role: str = "champion",
    ids: Sequence[str] | None = None,
    shadow_of: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    ids = list(ids) if ids is not None else new_ids(len(records))
    now = utcnow().isoformat()  # a string: the same row may go to the spill file as JSON
    probs = scored.probabilities
    return [
        {
            "id": ids[i],
            "project": project,
            "created_at": now,
            "model_version": scored.version,
            "role": role,
            "record": rec,
            "prediction": scored.predictions[i],
            "probabilities": None if probs is None else probs[i],
            "latency_ms": latency_ms,
            "shadow_of": None if shadow_of is None else shadow_of[i],
        }
        for i, rec in enumerate(records)
    ]
