"""The reference a window is compared with: the champion, the data it was built from, its holdout.

The champion's model version carries ``evergreen.run_id``; that run's ``details`` hold the batch ids
and ``as_of`` of its dataset, so ``assemble_dataset`` rebuilds exactly the rows it was trained and
judged on (checked against the version's ``evergreen.dataset_version`` tag).

Which rows serve as what:
- data drift: the whole dataset version (training part and holdout). The holdout is a seeded
  per-row hash, so both parts come from the same distribution, and all rows give the tests more power;
- prediction drift, the performance estimator (CBPE calibration or DLE error models, sampling
  errors) and the performance baseline: the holdout only, because the model's outputs on rows it
  was fitted on are over-confident and would make every window look drifted and every estimate
  too optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from evergreen.data.contract import Contract
from evergreen.data.dataset import assemble_dataset, split_holdout
from evergreen.errors import NotFoundError
from evergreen.evaluation.metrics import compute_metrics, is_classification
from evergreen.monitoring.columns import coerce_features, contract_kinds, prediction_frame
from evergreen.monitoring.drift import Kind
from evergreen.monitoring.estimator import Estimator, fit_classification, fit_regression, fit_scales
from evergreen.project import Project
from evergreen.registry import CHAMPION, TAG_PREFIX
from evergreen.store.runs import get_run
from evergreen.store.tables import decisions


@dataclass(frozen=True)
class Reference:
    model_version: str
    dataset_version: str
    batch_ids: tuple[int, ...]
    model: Any
    contract: Contract
    kinds: dict[str, Kind]
    features: pd.DataFrame  # coerced feature columns of the whole dataset version
    holdout_rows: int
    classes: list[Any] | None  # the model's classes, in the order of its probability columns
    predictions: pd.DataFrame  # prediction-drift columns of the model on the holdout
    prediction_kinds: dict[str, Kind]
    baseline: dict[str, float]  # the champion's holdout metrics
    baseline_source: str
    estimator: Estimator | None  # CBPE (with probabilities), sampling errors only (without), DLE
    notes: list[str] = field(default_factory=list)

    def score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """The model's predictions (and probabilities) on raw feature rows."""
        return _outputs(self.model, frame[list(self.contract.feature_names)], self.classes)


def _outputs(model: Any, x: pd.DataFrame, classes: list[Any] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions, and probabilities when the model has ``classes``."""
    pred = np.asarray(model.predict(x))
    proba = np.asarray(model.predict_proba(x), dtype=np.float64) if classes is not None else None
    return pred, proba


def stored_baseline(
    project: Project, version: str, mlflow_run_id: str | None
) -> tuple[dict[str, float], str]:
    """The holdout metrics recorded when ``version`` was decided on; ({}, "") if none are stored."""
    with project.store.connect() as conn:
        row = conn.execute(
            select(decisions.c.candidate_metrics)
            .where(decisions.c.project == project.store.project, decisions.c.candidate_version == version)
            .order_by(decisions.c.id.desc())
            .limit(1)
        ).first()
    if row is not None and row.candidate_metrics:
        return {k: float(v) for k, v in row.candidate_metrics.items()}, "decisions"
    if mlflow_run_id:
        metrics = project.registry.client.get_run(mlflow_run_id).data.metrics
        found = {k[len("holdout_") :]: float(v) for k, v in metrics.items() if k.startswith("holdout_")}
        if found:
            return found, "mlflow"
    return {}, ""


def build_reference(project: Project) -> Reference:
    s, reg = project.settings, project.registry
    version = reg.version_by_alias(CHAMPION)
    if version is None:
        raise NotFoundError("no champion model yet: run `evergreen retrain` first")
    info = reg.get_version(version)
    run_id = info.tags.get(TAG_PREFIX + "run_id")
    if not run_id:
        raise NotFoundError(f"champion v{version} has no {TAG_PREFIX}run_id tag: its data is unknown")
    details = get_run(project.store, run_id).get("details") or {}
    as_of = details.get("as_of")
    dataset = assemble_dataset(
        s,
        project.store,
        as_of=datetime.fromisoformat(as_of) if as_of else None,
        batch_ids=details.get("batch_ids"),
    )
    notes = []
    if info.dataset_version and dataset.version != info.dataset_version:
        notes.append(f"rebuilt dataset {dataset.version} differs from the champion's {info.dataset_version}")
    _, holdout = split_holdout(dataset, s.training.holdout_fraction, s.training.seed, s.task)
    model = reg.load_model(version)
    classes = list(model.classes_) if is_classification(s.task) and hasattr(model, "predict_proba") else None
    pred, proba = _outputs(model, holdout[list(dataset.contract.feature_names)], classes)
    baseline, source = stored_baseline(project, version, info.run_id)
    if not baseline:
        y = holdout[s.data.target].to_numpy()
        baseline, source = compute_metrics(s.task, y, pred, proba, classes), "recomputed"
    kinds = contract_kinds(dataset.contract)
    estimator = None
    target = holdout[s.data.target]
    if proba is not None and classes is not None:
        estimator = fit_classification(target.tolist(), pred.tolist(), proba, classes)
    elif is_classification(s.task) and len(getattr(model, "classes_", ())) >= 2:
        estimator = fit_scales(target.tolist(), pred.tolist(), list(model.classes_))
    elif s.task == "regression" and len(holdout) >= 2:
        x = coerce_features(holdout, kinds)
        estimator = fit_regression(
            x, kinds, pd.to_numeric(target, errors="coerce").to_numpy(np.float64), pred.astype(np.float64)
        )
    pred_frame, pred_kinds = prediction_frame(s.task, pred.tolist(), proba, classes)
    return Reference(
        model_version=version,
        dataset_version=dataset.version,
        batch_ids=dataset.batch_ids,
        model=model,
        contract=dataset.contract,
        kinds=kinds,
        features=coerce_features(dataset.frame, kinds),
        holdout_rows=len(holdout),
        classes=classes,
        predictions=pred_frame,
        prediction_kinds=pred_kinds,
        baseline=baseline,
        baseline_source=source,
        estimator=estimator,
        notes=notes,
    )
