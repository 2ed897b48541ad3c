"""Fit every candidate, pick the best on a validation split, refit the winner on all training rows.

Each fit runs in its own forked process so a candidate that hangs past ``timeout_minutes`` can be
killed without taking the run down, and a crash (even a segfault in a native library) is recorded
as that candidate's failure. The child sends the fitted pipeline and its validation predictions
back pickled through a pipe.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
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


@dataclass
class _Outcome:
    status: str
    pipeline: Pipeline | None = None
    fit_seconds: float = 0.0
    y_pred: Any = None
    proba: Any = None
    classes: Any = None
    error: str | None = None


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


def _child(conn: Connection, pipeline: Pipeline, X: pd.DataFrame, y: Any, X_val: pd.DataFrame | None) -> None:
    """Runs in the forked process: fit, predict the validation rows, send everything back."""
    try:
        from threadpoolctl import threadpool_limits

        # One OpenMP thread: candidates are meant to be cheap, and an OpenMP pool inherited across
        # fork is a known source of hangs.
        with threadpool_limits(limits=1):
            start = time.perf_counter()
            pipeline.fit(X, y)
            seconds = time.perf_counter() - start
            outcome = _Outcome("ok", pipeline, seconds)
            if X_val is not None:
                outcome.y_pred = np.asarray(pipeline.predict(X_val))
                if hasattr(pipeline, "predict_proba") and hasattr(pipeline, "classes_"):
                    outcome.proba = np.asarray(pipeline.predict_proba(X_val), dtype=np.float64)
                    outcome.classes = np.asarray(pipeline.classes_)
        conn.send(outcome)
    except BaseException as exc:
        try:
            conn.send(_Outcome("failed", error=one_line(exc)[:500]))
        except BaseException as send_exc:  # the parent sees the closed pipe and records the exit code
            log.error("candidate_result_not_sent", error=one_line(exc), send_error=one_line(send_exc))
    finally:
        conn.close()


def run_isolated(
    pipeline: Pipeline, X: pd.DataFrame, y: Any, X_val: pd.DataFrame | None, timeout_seconds: float
) -> _Outcome:
    """Fit ``pipeline`` in a forked child; kill it after ``timeout_seconds``."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, pipeline, X, y, X_val), daemon=True)
    process.start()
    # Close our copy of the sending end, so a child that dies without sending shows up as EOF.
    sender.close()
    try:
        if not receiver.poll(timeout_seconds):
            process.kill()
            process.join()
            return _Outcome(
                "timeout",
                fit_seconds=timeout_seconds,
                error=f"fit exceeded the timeout of {timeout_seconds:g} s and was killed",
            )
        try:
            outcome: _Outcome = receiver.recv()
        except (EOFError, OSError):
            process.join(5)
            return _Outcome("failed", error=f"candidate process died (exit code {process.exitcode})")
        process.join(5)
        return outcome
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
            process.join()


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
) -> TrainingResult:
    """Fit ``config.candidates``, select by ``selection_metric`` on validation, refit the winner.

    Rows with a missing target are dropped first: they carry no training signal.
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

    results: list[CandidateResult] = []
    templates: dict[str, Pipeline] = {}
    for index, name in enumerate(config.candidates):
        emit("candidate_started", {"name": name, "index": index, "total": len(config.candidates)})
        result = _fit_candidate(name, task, kinds, config, X_fit, y_fit, X_val, y_val, timeout, templates)
        results.append(result)
        emit(
            "candidate_finished",
            {
                "name": name,
                "status": result.status,
                "fit_seconds": result.fit_seconds,
                "error": result.error,
                "value": result.val_metrics.get(selection_metric),
                "metric": selection_metric,
            },
        )

    ok = [r for r in results if r.status == "ok"]
    if not ok:
        summary = "; ".join(f"{r.name}: {r.status} ({r.error})" for r in results)
        raise TrainingError(f"every candidate failed: {summary}", details={"candidates": summary})
    # max() keeps the first of equal values, so ties go to the earlier candidate in config order.
    best = max(ok, key=lambda r: _rank_value(r.val_metrics, selection_metric))
    emit("refit_started", {"name": best.name, "rows": len(frame)})
    refit = run_isolated(
        clone(templates[best.name]), frame[list(kinds.columns)], frame[target].to_numpy(), None, timeout
    )
    if refit.status != "ok" or refit.pipeline is None:
        raise TrainingError(f"refitting the winner {best.name!r} on all rows {refit.status}: {refit.error}")
    emit("refit_finished", {"name": best.name, "fit_seconds": refit.fit_seconds})
    return TrainingResult(
        candidates=results,
        best_name=best.name,
        model=refit.pipeline,
        fit_seconds_total=sum(r.fit_seconds for r in results) + refit.fit_seconds,
        validation_rows=len(val_part),
        training_rows=len(frame),
    )


def _fit_candidate(
    name: str,
    task: str,
    kinds: FeatureKinds,
    config: TrainingConfig,
    X_fit: pd.DataFrame,
    y_fit: Any,
    X_val: pd.DataFrame,
    y_val: Any,
    timeout: float,
    templates: dict[str, Pipeline],
) -> CandidateResult:
    try:
        pipeline = build_pipeline(name, task, kinds, config.seed, config.params.get(name))
    except TrainingError as exc:
        return CandidateResult(name, "failed", error=exc.message)
    templates[name] = pipeline
    params = json_safe_params(pipeline.named_steps["model"])
    outcome = run_isolated(clone(pipeline), X_fit, y_fit, X_val, timeout)
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
