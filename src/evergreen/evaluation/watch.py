"""After a promotion: is the new champion worse on live data than the one it replaced? Pure.

For ``promotion.watch`` after a promotion, the replaced champion keeps scoring live traffic in
shadow, so both models have a prediction for the same live records. Once ``watch.min_labels`` of
those records are labelled, the metric of each is computed on them, and the paired difference
``delta = new - old`` gets its sampling error ``sigma``: the standard deviation of the delta over
bootstrap resamples of the records, both models on the same resampled rows (the paired bootstrap
of :mod:`evergreen.evaluation.bootstrap`).

The verdict is :func:`evergreen.evaluation.bands.judge_performance` - the rule the monitoring
report, the performance trigger and the alert use - with the old champion's value as the baseline,
the delta's sigma as the band's sigma, and no minimum drop: the new champion is ``regressed`` when
it is worse and its whole band ``new +- band_sigmas * sigma`` lies on the worse side of the old
value. Fewer labelled pairs than ``min_labels``: ``insufficient_data``, never a rollback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from evergreen.evaluation.bands import judge_performance
from evergreen.evaluation.bootstrap import paired_resamples

WatchVerdict = Literal["insufficient_data", "kept", "regressed"]


@dataclass(frozen=True)
class PairedScore:
    """Both models' ``metric`` on the same labelled live records, and the delta's sampling error."""

    metric: str
    rows: int
    new: float | None
    old: float | None
    sigma: float | None


def paired_score(
    task: str,
    metric: str,
    y_true: Sequence[Any] | NDArray[Any],
    pred_new: Sequence[Any] | NDArray[Any],
    pred_old: Sequence[Any] | NDArray[Any],
    *,
    proba_new: NDArray[np.float64] | None = None,
    proba_old: NDArray[np.float64] | None = None,
    classes: Sequence[Any] | None = None,
    samples: int = 1000,
    seed: int = 42,
) -> PairedScore:
    """``metric`` of each model on the labelled pairs; sigma of new - old by the paired bootstrap.
    ``roc_auc`` and ``log_loss`` need both models' probabilities (rows x ``classes``)."""
    n = len(y_true)
    if n == 0:
        return PairedScore(metric, 0, None, None, None)
    r = paired_resamples(
        task, metric, y_true, pred_new, pred_old, proba_new, proba_old, classes, samples=samples, seed=seed
    )
    sigma = float(np.std(r.diffs)) if n >= 2 and r.diffs.size else None
    return PairedScore(metric, n, _finite(r.value_a), _finite(r.value_b), sigma)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class WatchJudgement:
    verdict: WatchVerdict
    metric: str
    rows: int
    min_labels: int
    new_version: str
    old_version: str
    new_value: float | None
    old_value: float | None
    delta: float | None  # new - old, raw
    sigma: float | None
    band_low: float | None
    band_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def reason(self) -> str:
        """One sentence with the numbers: what the audit trail and the decision history say."""
        head = f"v{self.new_version} vs v{self.old_version} on the same {self.rows} labelled live records"
        if self.verdict == "insufficient_data":
            return f"{head}: fewer than watch.min_labels {self.min_labels}, no verdict"
        assert self.new_value is not None and self.old_value is not None and self.delta is not None
        numbers = (
            f"{self.metric} {self.new_value:.4f} vs {self.old_value:.4f} (delta {self.delta:+.4f}, "
            f"sigma {_f(self.sigma)}, band [{_f(self.band_low)}, {_f(self.band_high)}])"
        )
        if self.verdict == "regressed":
            return f"{head}: {numbers}, worse beyond the sampling band: rolled back to v{self.old_version}"
        return f"{head}: {numbers}, not worse beyond the sampling band: kept"


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def judge_watch(
    score: PairedScore, *, new_version: str, old_version: str, min_labels: int, sigmas: float
) -> WatchJudgement:
    """The verdict on one watch (see the module docstring)."""
    parts: dict[str, Any] = {
        "metric": score.metric,
        "rows": score.rows,
        "min_labels": min_labels,
        "new_version": new_version,
        "old_version": old_version,
        "new_value": score.new,
        "old_value": score.old,
        "sigma": score.sigma,
    }
    if score.rows < min_labels or score.new is None or score.old is None:
        return WatchJudgement("insufficient_data", delta=None, band_low=None, band_high=None, **parts)
    j = judge_performance(
        score.metric, score.new, score.sigma, baseline=score.old, drop_limit=0.0, sigmas=sigmas
    )
    assert j.band is not None
    verdict: WatchVerdict = "regressed" if j.dropped else "kept"
    delta = score.new - score.old
    return WatchJudgement(verdict, delta=delta, band_low=j.band.lower, band_high=j.band.upper, **parts)


def watch_open(started_at: datetime, now: datetime, days: float) -> bool:
    """The watch of a promotion made at ``started_at`` still runs at ``now``."""
    return started_at <= now < started_at + timedelta(days=days)
