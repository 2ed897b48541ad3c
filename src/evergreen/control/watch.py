"""The watch after a promotion, run from the scheduler's tick: roll back by itself on a regression.

Thin: it reads the newest promotion and the paired live predictions (:mod:`evergreen.store.watch`),
hands the numbers to the pure judge (:mod:`evergreen.evaluation.watch`) and, on ``regressed`` with
``promotion.auto_rollback``, calls the same :func:`evergreen.control.models.rollback` a person would,
as actor ``system``: the decision row keeps the numbers, the audit row the reason, and the champion
change raises an alert (level ``alert`` for a rollback by the system).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from evergreen.control.models import rollback
from evergreen.data.values import canonical_str, is_missing
from evergreen.evaluation.metrics import PROBA_METRICS
from evergreen.evaluation.watch import WatchJudgement, judge_watch, paired_score, watch_open
from evergreen.logs import get_logger
from evergreen.overrides import effective_settings
from evergreen.project import Project
from evergreen.registry import CHAMPION
from evergreen.store.engine import as_utc, utcnow
from evergreen.store.watch import current_watch, labelled_pairs

log = get_logger(__name__)


def _arrays(task: str, pairs: list[tuple[Any, Any, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = [p for p in pairs if not any(is_missing(v) for v in p)]
    if task == "regression":
        cols = [np.array([float(p[k]) for p in keep], dtype=np.float64) for k in (2, 0, 1)]
    else:
        cols = [np.array([canonical_str(p[k]) for p in keep], dtype=object) for k in (2, 0, 1)]
    return cols[0], cols[1], cols[2]


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
    if metric in PROBA_METRICS:  # the shadow's labels are compared, not its probabilities
        metric = "accuracy"
    y, new, old = _arrays(s.task, labelled_pairs(project.store, watch, p.watch.rows))
    score = paired_score(s.task, metric, y, new, old, samples=p.bootstrap_samples, seed=s.training.seed)
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
        rollback(
            project,
            to=watch.previous,
            actor="system",
            reason=f"automatic rollback: {judgement.reason}",
            decision_values=_decision(judgement),
        )
    return judgement


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
