"""What every route needs, built once by the app factory and kept on ``app.state.ctx``.

Frozen: the parts have their own state (the holder swaps its model), but which parts there are never
changes while the app runs. A router added later reads what it needs with ``Depends(get_context)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from evergreen.config import Settings
from evergreen.data.pii import RecordPII
from evergreen.project import Project
from evergreen.serving.batcher import Batcher
from evergreen.serving.metrics import ServingMetrics
from evergreen.serving.model import ModelHolder
from evergreen.serving.predictlog import PredictionLog
from evergreen.serving.shadow import ShadowScorer
from evergreen.serving.watcher import ModelWatcher


@dataclass(frozen=True)
class ServingContext:
    settings: Settings
    project: Project
    holder: ModelHolder
    log: PredictionLog
    metrics: ServingMetrics
    batcher: Batcher
    watcher: ModelWatcher
    shadow: ShadowScorer | None = None
    # data.pii applied to every record before it is scored, logged, spilled or stored as feedback.
    pii: RecordPII = field(default_factory=RecordPII)


def spill_path(settings: Settings) -> Path:
    configured = settings.serving.spill_path
    if configured is None:
        return settings.state_dir / "prediction_spill.jsonl"
    return configured if configured.is_absolute() else settings.root / configured


def dead_letter_path(settings: Settings) -> Path:
    return spill_path(settings).with_name("prediction_deadletter.jsonl")


def get_context(request: Request) -> ServingContext:
    ctx: ServingContext = request.app.state.ctx
    return ctx
