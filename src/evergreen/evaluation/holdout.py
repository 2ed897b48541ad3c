"""The candidate and the champion scored on the same holdout rows, and their paired comparison.

Inputs are plain (a fitted model, the holdout frame, the settings, the feature columns); loading a
model is the caller's business, passed in as a function, so this module needs neither the store nor
the registry. The retrain's evaluate stage and the control layer's re-check at approval use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evergreen.config import Settings
from evergreen.errors import ChampionUnavailableError, one_line
from evergreen.evaluation.bootstrap import BootstrapResult, paired_bootstrap
from evergreen.evaluation.metrics import PROBA_METRICS, compute_metrics
from evergreen.evaluation.policy import ModelScore
from evergreen.evaluation.slices import slice_metrics
from evergreen.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Scored:
    """A model's predictions and metrics on the shared holdout."""

    score: ModelScore
    pred: np.ndarray
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None = None


def score_on_holdout(
    model: Any, version: str | None, holdout: pd.DataFrame, settings: Settings, columns: Sequence[str]
) -> Scored:
    """Predict ``holdout[columns]``; metrics (and slice metrics) against the target column."""
    s = settings
    X = holdout[list(columns)]
    y = holdout[s.data.target].to_numpy()
    pred = np.asarray(model.predict(X))
    proba = None
    classes = None
    if s.task != "regression" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
        classes = list(model.classes_)
    metrics = compute_metrics(s.task, y, pred, proba, classes)
    slices: dict[str, Any] = {}
    if s.promotion.slice_columns:
        slices = slice_metrics(
            holdout,
            list(s.promotion.slice_columns),
            y,
            pred,
            s.task,
            s.promotion_metric,
            min_rows=s.promotion.min_slice_rows,
            proba=proba,
            classes=classes,
        )
    return Scored(
        ModelScore(version=version, metrics=metrics, slices=slices),
        pred,
        proba,
        tuple(classes) if classes is not None else None,
    )


def compare_on_holdout(
    settings: Settings, cand: Scored, champ: Scored | None, holdout: pd.DataFrame
) -> BootstrapResult | None:
    """Paired bootstrap of the promotion metric's delta, both models on the same resampled rows."""
    s = settings
    if champ is None or s.promotion.significance is None:
        return None
    metric = s.promotion_metric
    use_proba = (
        metric in PROBA_METRICS
        and cand.proba is not None
        and champ.proba is not None
        and cand.classes == champ.classes
    )
    return paired_bootstrap(
        s.task,
        metric,
        holdout[s.data.target].to_numpy(),
        cand.pred,
        champ.pred,
        cand.proba if use_proba else None,
        champ.proba if use_proba else None,
        list(cand.classes) if use_proba and cand.classes else None,
        samples=s.promotion.bootstrap_samples,
        seed=s.training.seed,
        alpha=s.promotion.significance,
    )


def score_champion(
    load_model: Callable[[str], Any],
    version: str | None,
    holdout: pd.DataFrame,
    settings: Settings,
    columns: Sequence[str],
) -> tuple[Scored | None, str | None]:
    """The champion on the holdout, or why it could not be scored (the policy decides what that means)."""
    if version is None:
        return None, None
    try:
        model = load_model(version)
        return score_on_holdout(model, version, holdout, settings, columns), None
    except ChampionUnavailableError as exc:
        return None, exc.message
    except Exception as exc:  # e.g. the old model cannot handle the current columns
        why = f"champion v{version} could not score the holdout: {one_line(exc)}"
        log.warning("champion_not_scored", version=version, error=why)
        return None, why
