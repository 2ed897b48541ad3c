"""The watch after a promotion, run from the scheduler's tick: roll back by itself on a regression.

Thin: it reads the newest promotion and the paired live predictions (:mod:`evergreen.store.watch`),
hands the numbers to the pure judge (:mod:`evergreen.evaluation.watch`) and, on ``regressed`` with
``promotion.auto_rollback``, calls the same :func:`evergreen.control.models.rollback` a person would,
as actor ``system``: the decision row keeps the numbers, the audit row the reason, and the champion
change raises an alert (level ``alert`` for a rollback by the system).

A rollback refused because ``previous`` cannot be served (its files collected, say) is recorded once
(audit ``rollback_refused``, a critical alert) and ends the watch: tried again on every tick, it
loaded the whole previous model each time under the models lease, and nobody was told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from evergreen.control.alerts import after_action
from evergreen.control.models import rollback
from evergreen.data.values import canonical_str, is_missing
from evergreen.errors import UnservableVersionError
from evergreen.evaluation.metrics import PROBA_METRICS
from evergreen.evaluation.watch import WatchJudgement, judge_watch, paired_score, watch_open
from evergreen.logs import get_logger
from evergreen.monitoring.columns import probability_matrix
from evergreen.overrides import effective_settings
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.store.audit import record_action
from evergreen.store.engine import as_utc, utcnow
from evergreen.store.watch import ROLLBACK_REFUSED, LabelledPair, Watch, current_watch, labelled_pairs

log = get_logger(__name__)


@dataclass(frozen=True)
class _Inputs:
    """What the judge gets: the metric it can compute, labels, predictions, probabilities if used."""

    metric: str
    y: np.ndarray
    new: np.ndarray
    old: np.ndarray
    proba_new: np.ndarray | None = None
    proba_old: np.ndarray | None = None
    classes: tuple[str, ...] | None = None


def _inputs(task: str, metric: str, pairs: list[LabelledPair]) -> _Inputs:
    """Labels and predictions as arrays (a record missing either side is left out). ``roc_auc`` and
    ``log_loss`` are judged on the probabilities both models logged; when a row has none (a model
    without ``predict_proba``) or a label is not among their classes, the labels are judged by
    ``accuracy`` instead, and the judgement names that metric."""
    keep = [p for p in pairs if not any(is_missing(v) for v in (p.new, p.old, p.label))]
    y, new, old = (_column(task, [getattr(p, side) for p in keep]) for side in ("label", "new", "old"))
    base = _Inputs(metric, y, new, old)
    if metric not in PROBA_METRICS:
        return base
    matrices = _probabilities(keep, base.y)
    if matrices is None:
        return _Inputs("accuracy", base.y, base.new, base.old)
    classes, proba_new, proba_old = matrices
    return _Inputs(metric, base.y, base.new, base.old, proba_new, proba_old, classes)


def _column(task: str, values: list[Any]) -> np.ndarray:
    # JSON keeps what the client sent: a label "1", 1 or 1.0 is the same class as a prediction 1.
    if task == "regression":
        return np.array([float(v) for v in values], dtype=np.float64)
    return np.array([canonical_str(v) for v in values], dtype=object)


def _probabilities(
    pairs: list[LabelledPair], y: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray] | None:
    """Both models' probability rows over one sorted class list, or None when they cannot be used."""
    rows: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for p in pairs:
        if not isinstance(p.new_proba, dict) or not isinstance(p.old_proba, dict):
            return None  # a model without predict_proba, or a row logged without them
        rows.append((p.new_proba, p.old_proba))
    if not rows or not all(d for pair in rows for d in pair):
        return None
    classes = tuple(sorted({canonical_str(k) for pair in rows for d in pair for k in d}))
    if len(classes) < 2 or not set(y.tolist()) <= set(classes):
        return None

    # monitoring's reader of logged probability rows: a row that is not a distribution (not numbers,
    # NaN or an infinity, outside [0, 1], not summing to 1) comes back as NaN. The AUC's sort would
    # rank NaN as the highest score, silently: not a probability, so the labels are judged instead.
    new = probability_matrix([pair[0] for pair in rows], classes)
    old = probability_matrix([pair[1] for pair in rows], classes)
    if np.isnan(new).any() or np.isnan(old).any():
        return None
    return classes, new, old


def check_watch(project: Project, now: datetime | None = None) -> WatchJudgement | None:
    """Judge the running watch, if any; roll back when the new champion regressed. None: no watch."""
    s = effective_settings(project)
    p = s.promotion
    if not p.auto_rollback:
        return None
    watch = current_watch(project.store)
    now = as_utc(now) or utcnow()
    if watch is None or not watch_open(watch.started_at, now, p.watch.days):
        return None
    if project.registry.version_by_alias(CHAMPION) != watch.champion:
        return None  # the alias moved outside evergreen: nothing of this watch applies
    metric = s.monitoring.metric or s.promotion_metric
    got = _inputs(s.task, metric, labelled_pairs(project.store, watch, p.watch.rows))
    score = paired_score(
        s.task, got.metric, got.y, got.new, got.old,
        proba_new=got.proba_new, proba_old=got.proba_old, classes=got.classes,
        samples=p.bootstrap_samples, seed=s.training.seed,
    )  # fmt: skip
    judgement = judge_watch(
        score,
        new_version=watch.champion,
        old_version=watch.previous,
        min_labels=p.watch.min_labels,
        sigmas=s.monitoring.band_sigmas,
    )
    # Every tick judges again while the watch runs: only a rollback is worth an info line.
    (log.info if judgement.verdict == "regressed" else log.debug)(
        "watch_judged", verdict=judgement.verdict, reason=judgement.reason
    )
    if judgement.verdict == "regressed":
        try:
            rollback(
                project,
                to=watch.previous,
                actor="system",
                reason=f"automatic rollback: {judgement.reason}",
                decision_values=_decision(judgement),
                expected=watch.champion,  # judged while scoring: a promotion by hand since stands
            )
        except UnservableVersionError as exc:
            _refused(project, watch, judgement, exc)
    return judgement


def _refused(project: Project, watch: Watch, j: WatchJudgement, exc: UnservableVersionError) -> None:
    """Record once that the regression stays: the audit row ends the watch (no rollback is tried
    again) and the alerts read it (critical, until the champion moves)."""
    log.error("watch_rollback_refused", champion=watch.champion, previous=watch.previous, error=exc.message)
    record_action(
        project.store,
        actor="system",
        action=ROLLBACK_REFUSED,
        target=f"version:{watch.previous}",
        reason=f"v{watch.champion} regressed on live data and stays the champion: {exc.message}",
        before={"champion": watch.champion},
        after={"champion": watch.champion, "watch": watch.audit_id, "judgement": j.to_dict()},
    )
    after_action(project)


def _decision(j: WatchJudgement) -> dict[str, Any]:
    """The decision row of the rollback: the restored version is the "candidate", the rolled-back one
    the "champion", each with its live value of the metric."""
    assert j.new_value is not None and j.old_value is not None and j.delta is not None
    return {
        "metric": j.metric,
        "candidate_metrics": {j.metric: j.old_value, "live_rows": j.rows},
        "champion_metrics": {j.metric: j.new_value, "live_rows": j.rows},
        "deltas": {j.metric: -j.delta},
        "checks": [{"name": "live_watch", "passed": False, "detail": j.reason, "numbers": j.to_dict()}],
    }
