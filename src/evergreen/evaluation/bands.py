"""Is a window's performance worse than the champion's, beyond noise? One pure rule for everyone.

A metric measured (or estimated) on ``n`` rows moves by its sampling error ``sigma`` between
windows of that size even when nothing changed. Its band is ``value +- sigmas * sigma``
(``monitoring.band_sigmas``, 3 by default). A window is *degraded* only when both hold:

- the drop from the baseline (the champion's holdout value) exceeds ``monitoring.performance_drop``
  (or the value is worse than the absolute floor ``triggers.performance.min``), and
- the whole band lies on the worse side of that baseline (or floor): noise alone cannot explain it.

The monitoring report, the performance trigger and the performance alert all call
:func:`judge_performance`, so they can never disagree about the same window. A missing sigma
(a metric without a known sampling error) counts as 0: the band is the value itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from evergreen.config import LOWER_IS_BETTER

Verdict = Literal["ok", "degraded", "insufficient_data"]
EPS = 1e-12


@dataclass(frozen=True)
class Band:
    value: float
    sigma: float | None
    lower: float
    upper: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_range(metric: str | None) -> tuple[float, float]:
    """Where ``metric``'s values can lie: errors are >= 0, r2 <= 1, every other score (a rate, an
    area, a share) in [0, 1]; unknown (None): anywhere."""
    if metric is None:
        return -math.inf, math.inf
    if metric in LOWER_IS_BETTER:
        return 0.0, math.inf
    if metric == "r2":
        return -math.inf, 1.0
    return 0.0, 1.0


def band(value: float, sigma: float | None, sigmas: float, metric: str | None = None) -> Band:
    """``value +- sigmas * sigma``, cut to the metric's range (as NannyML cuts its confidence
    boundaries): an F1 band of -0.3 to 2.3 on a handful of rows says nothing a band of 0 to 1 does
    not. No verdict changes: every comparison is with a value inside the range."""
    half = 0.0 if sigma is None or not math.isfinite(sigma) else sigmas * sigma
    low, high = metric_range(metric)
    return Band(value, sigma, max(low, value - half), min(high, value + half))


def metric_drop(metric: str, baseline: float, value: float) -> float:
    """How much worse ``value`` is than ``baseline`` (negative when it is better)."""
    return value - baseline if metric in LOWER_IS_BETTER else baseline - value


def band_worse_than(metric: str, b: Band, reference: float) -> bool:
    """The whole band lies on the worse side of ``reference``."""
    return b.lower > reference if metric in LOWER_IS_BETTER else b.upper < reference


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    band: Band | None
    drop: float | None  # vs the baseline; positive is worse
    dropped: bool  # drop above the limit with the band wholly below the baseline
    below_floor: bool  # worse than the floor with the band wholly on the worse side

    @property
    def degraded(self) -> bool:
        return self.verdict == "degraded"


def judge_performance(
    metric: str,
    value: float | None,
    sigma: float | None,
    *,
    baseline: float | None,
    drop_limit: float | None,
    sigmas: float,
    floor: float | None = None,
) -> Judgement:
    """The verdict on one window's value of ``metric``; ``value=None``: not enough evidence."""
    if value is None or not math.isfinite(value):
        return Judgement("insufficient_data", None, None, False, False)
    b = band(value, sigma, sigmas, metric)
    drop = None
    dropped = False
    if baseline is not None and math.isfinite(baseline):
        drop = metric_drop(metric, baseline, value)
        # EPS: 0.80 - 0.75 is 0.0500000000000000044 in binary; a drop equal to the limit does not exceed it.
        dropped = drop_limit is not None and drop > drop_limit + EPS and band_worse_than(metric, b, baseline)
    below = floor is not None and math.isfinite(floor) and band_worse_than(metric, b, floor)
    return Judgement("degraded" if dropped or below else "ok", b, drop, dropped, bool(below))
