"""Writing prediction-log rows the way the serving component does: scored by the real champion."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert

from evergreen.data import catalog
from evergreen.data.values import to_json_value
from evergreen.pipeline import RetrainRequest, RetrainRunner
from evergreen.project import open_project
from evergreen.registry import CHAMPION
from evergreen.store.tables import feedback, predictions
from tests.support.project import churn_settings_with_batches


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, pd.Timestamp | datetime):
            out[k] = v.isoformat()
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out[k] = None
        else:
            out[k] = to_json_value(v)
    return out


def log_predictions(
    project: Any,
    frame: pd.DataFrame,
    *,
    end: datetime,
    spacing: timedelta = timedelta(minutes=1),
    labelled: float = 1.0,
    seed: int = 0,
    version: str | None = None,
    role: str = "champion",
) -> pd.DataFrame:
    """Score ``frame`` with a registered version, write one prediction row per record (the last one
    at ``end``, earlier ones ``spacing`` apart) and feedback for a seeded ``labelled`` share.

    Returns what was written: id, created_at, prediction, the positive-class probability, label.
    """
    version = version or project.registry.version_by_alias(CHAMPION)
    model = project.registry.load_model(version)
    with project.store.connect() as conn:
        loaded = catalog.load_contract(conn, project.store.project)
    assert loaded is not None
    features = list(loaded[1].feature_names)
    pred = model.predict(frame[features])
    proba = model.predict_proba(frame[features]) if hasattr(model, "predict_proba") else None
    classes = [to_json_value(c) for c in model.classes_]
    n = len(frame)
    times = [end - spacing * (n - 1 - i) for i in range(n)]
    ids = [str(uuid.UUID(int=int(x))) for x in np.random.default_rng(seed).integers(0, 2**62, n)]
    has_label = np.random.default_rng(seed + 1).random(n) < labelled
    target = project.settings.data.target
    pred_rows, fb_rows = [], []
    for i, (_, row) in enumerate(frame.iterrows()):
        record = _jsonable({c: row[c] for c in frame.columns if c != target})
        pred_rows.append(
            {
                "id": ids[i],
                "project": project.store.project,
                "created_at": times[i],
                "model_version": version,
                "role": role,
                "record": record,
                "prediction": to_json_value(pred[i]),
                "probabilities": None
                if proba is None
                else {str(c): float(p) for c, p in zip(classes, proba[i], strict=True)},
                "latency_ms": 1.0,
            }
        )
        if has_label[i]:
            fb_rows.append(
                {
                    "project": project.store.project,
                    "prediction_id": ids[i],
                    "label": to_json_value(row[target]),
                    "received_at": times[i] + timedelta(hours=1),
                }
            )
    with project.store.begin() as conn:
        conn.execute(insert(predictions), pred_rows)
        if fb_rows:
            conn.execute(insert(feedback), fb_rows)
    return pd.DataFrame(
        {
            "id": ids,
            "created_at": times,
            "prediction": pred,
            "proba": None if proba is None else proba[:, -1],
            "label": [
                row if lab else None for row, lab in zip(frame[target].tolist(), has_label, strict=True)
            ],
        }
    )


def train_project(root: Path, rows: int = 1000, database_url: str | None = None, **sections: Any) -> Any:
    """A churn project (two weekly batches of ``rows``) after one promoted retrain."""
    project = open_project(
        churn_settings_with_batches(root, rows=rows, database_url=database_url, **sections)
    )
    outcome = RetrainRunner(project).run(RetrainRequest(trigger="manual", reason="monitoring fixture"))
    assert outcome.status == "promoted", outcome.reason
    return project
