"""Fit every candidate, pick the best on a validation split, refit the winner on all training rows.

Where the fits run is :mod:`evergreen.training.runners`' business (``training.parallel_backend``):
each in its own forked process on this machine (``loky``, the default), or as tasks of a Dask or
Ray cluster through joblib's backend.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from evergreen.config import LOWER_IS_BETTER, TrainingConfig
from evergreen.errors import TrainingError, one_line
from evergreen.evaluation.metrics import compute_metrics, is_classification
from evergreen.logs import get_logger
from evergreen.training.candidates import build_pipeline, validate_candidates
from evergreen.training.preprocessing import FeatureKinds
from evergreen.training.runners import FitJob, FitOutcome, fit_jobs

EventHook = Callable[[str, dict[str, Any]], None]

log = get_logger(__name__)


@dataclass
class CandidateResult:
    name: str
    status: str  # "ok" | "failed" | "timeout"
    params: dict[str, Any] = field(default_factory=dict)
    val_metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0
    error: str | None = None
    pipeline: Pipeline | None = None


@dataclass
class TrainingResult:
    """``training_rows`` is every row the final model saw (the whole ``train`` frame)."""

    candidates: list[CandidateResult]
    best_name: str
    model: Pipeline
    fit_seconds_total: float
    validation_rows: int
    training_rows: int

    @property
    def best(self) -> CandidateResult:
        return next(c for c in self.candidates if c.name == self.best_name)


def json_safe_params(model: Any) -> dict[str, Any]:
    """The model step's constructor params, scalars only (nested estimators are flattened by sklearn)."""
    try:
        raw = model.get_params(deep=True)
    except Exception as exc:  # a custom estimator without sklearn's params API: log no params
        log.warning("params_unreadable", model=type(model).__name__, error=one_line(exc))
        return {}
    out: dict[str, Any] = {}
    for key, value in sorted(raw.items()):
        if isinstance(value, bool | int | str) or value is None:
            out[key] = value
        elif isinstance(value, float):
            out[key] = value if math.isfinite(value) else str(value)
        elif isinstance(value, np.generic):
            out[key] = value.item()
    return out


def split_validation(
    frame: pd.DataFrame, target: str, task: str, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split; stratified for classification when every class has at least two rows."""
    stratify = None
    if is_classification(task):
        counts = frame[target].value_counts()
        if len(counts) >= 2 and int(counts.min()) >= 2:
            stratify = frame[target]
    try:
        fit_part, val_part = train_test_split(frame, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise TrainingError(f"cannot split a validation set from {len(frame)} rows: {exc}") from None
    return fit_part, val_part


def _rank_value(metrics: dict[str, float], metric: str) -> float:
    """Higher is better; a missing or NaN metric ranks last."""
    value = metrics.get(metric)
    if value is None or not math.isfinite(value):
        return -math.inf
    return -value if metric in LOWER_IS_BETTER else value


def train_candidates(
    train: pd.DataFrame,
    target: str,
    kinds: FeatureKinds,
    task: str,
    config: TrainingConfig,
    selection_metric: str,
    on_event: EventHook | None = None,
    stop: threading.Event | None = None,
) -> TrainingResult:
    """Fit ``config.candidates``, select by ``selection_metric`` on validation, refit the winner.

    Rows with a missing target are dropped first: they carry no training signal. ``stop`` set while
    fitting: :class:`~evergreen.errors.RunStoppedError` (see :mod:`evergreen.training.runners`).
    """
    emit: EventHook = on_event or (lambda _event, _payload: None)
    validate_candidates(list(config.candidates))
    if target not in train.columns:
        raise TrainingError(f"target column {target!r} is not in the training data")
    missing = [c for c in kinds.columns if c not in train.columns]
    if missing:
        raise TrainingError(f"feature columns missing from the training data: {', '.join(missing)}")
    frame = train[train[target].notna()]
    if is_classification(task) and frame[target].nunique() < 2:
        raise TrainingError(f"target {target!r} has fewer than two classes in {len(frame)} rows")
    fit_part, val_part = split_validation(frame, target, task, config.validation_fraction, config.seed)
    X_fit, y_fit = fit_part[list(kinds.columns)], fit_part[target].to_numpy()
    X_val, y_val = val_part[list(kinds.columns)], val_part[target].to_numpy()
    timeout = config.timeout_minutes * 60.0

    total = len(config.candidates)
    results: dict[int, CandidateResult] = {}
    templates: dict[str, Pipeline] = {}
    jobs: list[FitJob] = []

    def finished(index: int, result: CandidateResult) -> None:
        results[index] = result
        emit(
            "candidate_finished",
            {
                "name": result.name,
                "status": result.status,
                "fit_seconds": result.fit_seconds,
                "error": result.error,
                "value": result.val_metrics.get(selection_metric),
                "metric": selection_metric,
            },
        )

    for index, name in enumerate(config.candidates):
        try:
            templates[name] = build_pipeline(name, task, kinds, config.seed, config.params.get(name))
        except TrainingError as exc:
            emit("candidate_started", {"name": name, "index": index, "total": total})
            finished(index, CandidateResult(name, "failed", error=exc.message))
            continue
        jobs.append(FitJob(index, name, clone(templates[name]), X_fit, y_fit, X_val))
    fit_jobs(
        jobs,
        config.parallel_backend,
        config.cluster_address,
        timeout,
        on_start=lambda job: emit(
            "candidate_started", {"name": job.name, "index": job.index, "total": total}
        ),
        on_done=lambda job, outcome: finished(
            job.index, _scored(job.name, task, templates[job.name], outcome, y_val)
        ),
        stop=stop,
    )
    results_in_order = [results[i] for i in sorted(results)]

    ok = [r for r in results_in_order if r.status == "ok"]
    if not ok:
        summary = "; ".join(f"{r.name}: {r.status} ({r.error})" for r in results_in_order)
        raise TrainingError(f"every candidate failed: {summary}", details={"candidates": summary})
    # max() keeps the first of equal values, so ties go to the earlier candidate in config order.
    best = max(ok, key=lambda r: _rank_value(r.val_metrics, selection_metric))
    emit("refit_started", {"name": best.name, "rows": len(frame)})
    refits: list[FitOutcome] = []
    fit_jobs(
        [
            FitJob(
                -1,
                best.name,
                clone(templates[best.name]),
                frame[list(kinds.columns)],
                frame[target].to_numpy(),
                None,
            )
        ],
        config.parallel_backend,
        config.cluster_address,
        timeout,
        on_start=lambda _job: None,
        on_done=lambda _job, outcome: refits.append(outcome),
        stop=stop,
    )
    refit = refits[0]
    if refit.status != "ok" or refit.pipeline is None:
        raise TrainingError(f"refitting the winner {best.name!r} on all rows {refit.status}: {refit.error}")
    emit("refit_finished", {"name": best.name, "fit_seconds": refit.fit_seconds})
    return TrainingResult(
        candidates=results_in_order,
        best_name=best.name,
        model=refit.pipeline,
        fit_seconds_total=sum(r.fit_seconds for r in results_in_order) + refit.fit_seconds,
        validation_rows=len(val_part),
        training_rows=len(frame),
    )


def _scored(name: str, task: str, pipeline: Pipeline, outcome: FitOutcome, y_val: Any) -> CandidateResult:
    """A candidate's result: its fit's outcome, scored on the validation rows."""
    params = json_safe_params(pipeline.named_steps["model"])
    if outcome.status != "ok":
        return CandidateResult(
            name, outcome.status, params, fit_seconds=outcome.fit_seconds, error=outcome.error
        )
    try:
        metrics = compute_metrics(task, y_val, outcome.y_pred, outcome.proba, outcome.classes)
    except Exception as exc:
        return CandidateResult(
            name,
            "failed",
            params,
            fit_seconds=outcome.fit_seconds,
            error=f"scoring failed: {one_line(exc)}"[:500],
        )
    return CandidateResult(name, "ok", params, metrics, outcome.fit_seconds, None, outcome.pipeline)
