"""The dataset stage's check for a change of concept: which holdout rows will decide, which rows train.

The rule is pure (:mod:`evergreen.evaluation.recent`); this module does the I/O around it: load the
champion (kept in the stage memo for the evaluate stage), score it on the window's holdout, split the
rows into newest and older, and - when a change was detected and ``promotion.train_on_change`` is
on - assemble the dataset again from the newest batches only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evergreen.config import Settings
from evergreen.data.dataset import Dataset, assemble_dataset, feature_kinds, split_holdout
from evergreen.errors import DataValidationError, one_line
from evergreen.evaluation.metrics import PROBA_METRICS
from evergreen.evaluation.recent import (
    ChampionOnRows,
    EvaluationBasis,
    champion_on_rows,
    choose_basis,
    recent_mask,
)
from evergreen.logs import get_logger
from evergreen.pipeline.context import StageContext
from evergreen.registry import TAG_PREFIX
from evergreen.store.runs import get_run

log = get_logger("evergreen.pipeline")


def _recent_of(ds: Dataset, positions: pd.Index, s: Settings) -> np.ndarray:
    assert ds.row_batches is not None, "assemble_dataset records each row's batch"
    rows = np.asarray(positions, dtype=np.int64)
    times = None if ds.row_times is None else ds.row_times[rows]
    return recent_mask(ds.row_batches[rows], times, ds.as_of, s.promotion.recent)


def _champion_batches(ctx: StageContext, champion: str) -> set[int] | None:
    """The batches the champion was trained on (its run's), or None when that is unknown."""
    p = ctx.project
    try:
        run_id = p.registry.get_version(champion).tags.get(TAG_PREFIX + "run_id")
        ids = (get_run(p.store, run_id).get("details") or {}).get("batch_ids") if run_id else None
    except Exception as exc:  # a version registered outside evergreen: fall back on holdout rows
        log.info("champion_batches_unknown", champion=champion, error=one_line(exc))
        return None
    return None if ids is None else {int(b) for b in ids}


def _score(
    ctx: StageContext, ds: Dataset, rows: pd.DataFrame, recent: np.ndarray, champion: str
) -> ChampionOnRows | None:
    s = ctx.project.settings
    try:
        model = ctx.model(champion)
        ctx.models[champion] = model  # the evaluate stage scores it again on the chosen rows
        columns = [c for kind in feature_kinds(ds.contract) for c in kind]  # as the evaluate stage
        X = rows[columns]
        pred = np.asarray(model.predict(X))
        proba = classes = None
        if s.task != "regression" and hasattr(model, "predict_proba"):
            proba, classes = np.asarray(model.predict_proba(X)), list(model.classes_)
    except Exception as exc:  # unavailable or unable to score: the evaluate stage tells the policy
        log.warning("change_check_skipped", champion=champion, error=one_line(exc))
        return None
    metric = s.promotion_metric
    if proba is None and metric in PROBA_METRICS:
        return None
    return champion_on_rows(
        s.task,
        metric,
        rows[s.data.target].to_numpy(),
        pred,
        proba,
        classes,
        recent,
        samples=s.promotion.bootstrap_samples,
        seed=s.training.seed,
    )


def _measured(ctx: StageContext, ds: Dataset, holdout: pd.DataFrame, champion: str) -> np.ndarray:
    """The rows the champion is measured on: the window's holdout rows, and every row of a newest
    batch it was not trained on (more evidence for the newest data: a tighter band)."""
    assert ds.row_batches is not None
    in_holdout = np.zeros(len(ds.frame), dtype=bool)
    in_holdout[np.asarray(holdout.index, dtype=np.int64)] = True
    seen = _champion_batches(ctx, champion)
    if seen is None:
        return in_holdout
    recent = _recent_of(ds, ds.frame.index, ctx.project.settings)
    unseen = ~np.isin(ds.row_batches, sorted(seen))
    return in_holdout | (recent & unseen)


def assess_change(
    ctx: StageContext, ds: Dataset, champion: str | None, trigger: str
) -> tuple[Dataset, EvaluationBasis]:
    """The rows that will decide (and the dataset to train on: the newest batches after a change)."""
    s = ctx.project.settings
    p = s.promotion
    try:
        _, holdout = split_holdout(ds, s.training.holdout_fraction, s.training.seed, s.task)
    except DataValidationError:
        holdout = ds.frame.iloc[:0]
    recent = _recent_of(ds, holdout.index, s)
    assert ds.row_batches is not None
    in_holdout = ds.row_batches[np.asarray(holdout.index, dtype=np.int64)]
    recent_batches = sorted({int(b) for b in in_holdout[recent]})
    older_batches = sorted({int(b) for b in in_holdout[~recent]} - set(recent_batches))
    check = None
    if champion is not None and p.evaluate_on != "window" and len(holdout):
        rows = ds.frame[_measured(ctx, ds, holdout, champion)]
        check = _score(ctx, ds, rows, _recent_of(ds, rows.index, s), champion)
    basis = choose_basis(
        p.evaluate_on,
        check,
        trigger=trigger,
        drop_limit=s.monitoring.performance_drop,
        sigmas=s.monitoring.band_sigmas,
        min_rows=s.monitoring.min_labels,
        train_on_change=p.train_on_change,
        recent_batches=recent_batches,
        older_batches=older_batches,
        recent_days=p.recent.days,
        holdout_rows=(int(recent.sum()), len(holdout)),
    )
    log.info("evaluation_basis", rows=basis.rows, reason=basis.reason, recent_batches=recent_batches)
    if not basis.train_on_recent:
        return ds, basis
    try:
        narrowed = assemble_dataset(s, ctx.project.store, as_of=ds.as_of, batch_ids=recent_batches)
        split_holdout(narrowed, s.training.holdout_fraction, s.training.seed, s.task)
    except DataValidationError as exc:
        # Too few rows to train and hold out on the newest data alone: train on the window.
        log.warning("train_on_change_skipped", error=one_line(exc))
        return ds, EvaluationBasis(**{**basis.to_dict(), "train_on_recent": False})
    return narrowed, basis


def evaluation_holdout(
    ds: Dataset, holdout: pd.DataFrame, basis: EvaluationBasis | None, s: Settings
) -> pd.DataFrame:
    """The holdout rows the comparison uses: all of them, or the newest data's."""
    if basis is None or basis.rows == "window" or ds.row_batches is None:
        return holdout
    return holdout[_recent_of(ds, holdout.index, s)]
