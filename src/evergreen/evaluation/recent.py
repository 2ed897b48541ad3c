"""Which holdout rows decide a promotion: the whole window's, or the newest data's. Pure.

A window of several batches spans a change of concept for a while after it happens. Judged on the
whole window's holdout, a candidate that learnt the new concept loses to a champion that still fits
the older rows, although the champion fails on what it will face next. So, before the comparison,
the champion is scored on the newest data (``promotion.recent``: the newest batches, or days) and on
the window's older holdout rows. Holdout rows are never trained on by any version
(``data.dataset.holdout_mask``), and of the newest data every row of a batch the champion was not
trained on counts too (more rows, a tighter band), so both numbers are fair.

``promotion.evaluate_on``:

- ``window``: always the whole window's holdout rows;
- ``recent``: always the newest data's holdout rows;
- ``auto``: the newest data's rows when a change is detected - the champion's metric there differs
  from its value on the older rows by more than ``monitoring.performance_drop`` **and** its sampling
  band (``monitoring.band_sigmas`` x sigma, sigma from a bootstrap of those rows) excludes the older
  value - or when a drift trigger started the run; else the window's rows (more rows, more power).

The change counts both ways: a drop (the concept moved away from the champion) and a rise (the
champion was trained after the change, and the older rows belong to a concept it no longer fits;
judging on them would favour a candidate that still fits the past). With
``promotion.train_on_change`` the candidate is then also trained on the newest data only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evergreen.config import LOWER_IS_BETTER, RecentConfig
from evergreen.evaluation.bands import band
from evergreen.evaluation.bootstrap import over_resamples, weighted_metric

EvaluateOn = Literal["window", "recent", "auto"]
Rows = Literal["window", "recent"]
Reason = Literal[
    "configured_window",
    "configured_recent",
    "performance_change",
    "drift_trigger",
    "no_change",
    "no_champion",
    "too_few_rows",
]
EPS = 1e-12
DRIFT_TRIGGER = "drift"


def recent_mask(
    row_batches: NDArray[Any], row_times: NDArray[Any] | None, as_of: datetime, recent: RecentConfig
) -> NDArray[np.bool_]:
    """True for the rows of the newest data: the newest ``recent.batches`` batch ids present, or the
    rows seen within ``recent.days`` days before ``as_of`` when ``days`` is set."""
    batches = np.asarray(row_batches)
    if recent.days is not None and row_times is not None:
        start = pd.Timestamp(as_of - timedelta(days=recent.days))
        times = pd.to_datetime(pd.Series(row_times), utc=True)
        return np.asarray(times >= start)
    newest = np.unique(batches)[-recent.batches :]
    return np.isin(batches, newest)


@dataclass(frozen=True)
class ChampionOnRows:
    """The champion's metric on the newest holdout rows (with its sampling error) and on the older."""

    metric: str
    recent: float | None
    recent_sigma: float | None
    older: float | None
    recent_rows: int
    older_rows: int


def champion_on_rows(
    task: str,
    metric: str,
    y_true: NDArray[Any],
    pred: NDArray[Any],
    proba: NDArray[Any] | None,
    classes: Sequence[Any] | None,
    recent: NDArray[np.bool_],
    *,
    samples: int = 1000,
    seed: int = 42,
) -> ChampionOnRows:
    """``metric`` on the recent and the older rows; sigma: the std over bootstrap resamples of the
    recent rows (the spread of the metric on another sample of that size)."""
    recent = np.asarray(recent, dtype=bool)
    yt, yp = np.asarray(y_true), np.asarray(pred)
    cls = None if classes is None else np.asarray(classes)
    if task != "regression" and cls is None:
        cls = np.unique(np.concatenate([yt, yp]))
    pr = None if proba is None else np.asarray(proba, dtype=np.float64)

    def value(rows: NDArray[np.bool_]) -> float | None:
        if not rows.any():
            return None
        v = float(_metric(task, metric, np.ones((1, int(rows.sum()))), yt[rows], yp[rows], pr, rows, cls)[0])
        return v if math.isfinite(v) else None

    n_recent = int(recent.sum())
    sigma = None
    if n_recent >= 2:
        yt_r, yp_r = yt[recent], yp[recent]
        values = over_resamples(
            n_recent, samples, seed, lambda counts: _metric(task, metric, counts, yt_r, yp_r, pr, recent, cls)
        )
        finite = values[np.isfinite(values)]
        sigma = float(np.std(finite)) if finite.size else None
    return ChampionOnRows(metric, value(recent), sigma, value(~recent), n_recent, int((~recent).sum()))


def _metric(
    task: str,
    metric: str,
    weights: NDArray[np.float64],
    yt: NDArray[Any],
    yp: NDArray[Any],
    proba: NDArray[np.float64] | None,
    rows: NDArray[np.bool_],
    classes: NDArray[Any] | None,
) -> NDArray[np.float64]:
    return weighted_metric(task, metric, weights, yt, yp, None if proba is None else proba[rows], classes)


@dataclass(frozen=True)
class EvaluationBasis:
    """Which holdout rows decided the promotion, and why; ``train_on_recent``: the candidate was
    trained on the newest data only."""

    rows: Rows
    reason: Reason
    recent_batches: tuple[int, ...] = ()
    older_batches: tuple[int, ...] = ()
    recent_rows: int = 0  # holdout rows of the newest data
    window_rows: int = 0  # holdout rows of the window
    measured_rows: int = 0  # rows of the newest data the champion was measured on (never trained on)
    metric: str | None = None
    champion_recent: float | None = None
    champion_older: float | None = None
    sigma: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    change: float | None = None  # champion_recent - champion_older (raw)
    drop_limit: float | None = None
    train_on_recent: bool = False
    recent_days: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationBasis:
        """Back from :meth:`to_dict` (as stored in a decision's checks, lists for tuples);
        ``ValueError``/``TypeError`` when ``data`` does not describe a basis."""
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        if known.get("rows") not in get_args(Rows) or known.get("reason") not in get_args(Reason):
            raise ValueError(
                f"not an evaluation basis: rows {known.get('rows')!r}, reason {known.get('reason')!r}"
            )
        for name in ("recent_batches", "older_batches"):
            known[name] = tuple(int(b) for b in known.get(name) or ())
        return cls(**known)

    def describe(self) -> str:
        """One sentence for the justification: the rows that decided and why."""
        newest = _newest_words(self)
        if self.rows == "recent":
            head = f"Judged on the {self.recent_rows} holdout rows of the newest data ({newest})"
            if self.window_rows > self.recent_rows:
                head += f", not on the window's {self.window_rows}"
            why = {
                "configured_recent": "promotion.evaluate_on is recent",
                "drift_trigger": "a drift trigger started this run",
            }.get(self.reason) or self._change_words()
            text = f"{head}: {why}."
            if self.train_on_recent:
                text += f" The candidate was trained on the newest data only ({newest})."
            return text
        head = f"Judged on the window's {self.window_rows} holdout rows ({_batches(self.all_batches)})"
        why = {
            "configured_window": "promotion.evaluate_on is window",
            "no_champion": "no champion to check for a change",
            "too_few_rows": "too few holdout rows of the newest or of the older data to check for a change",
        }.get(self.reason) or self._change_words()
        return f"{head}: {why}."

    @property
    def all_batches(self) -> tuple[int, ...]:
        return tuple(sorted({*self.recent_batches, *self.older_batches}))

    def _change_words(self) -> str:
        if self.champion_recent is None or self.champion_older is None:
            return "the champion could not be measured on both parts"
        where = (
            f"the champion's {self.metric} on the newest data ({self.measured_rows} rows it was not "
            f"trained on), {self.champion_recent:.4f} "
            f"(band [{_f(self.band_low)}, {_f(self.band_high)}]), against {self.champion_older:.4f} on the "
            f"older holdout rows ({_batches(self.older_batches)})"
        )
        if self.reason == "no_change":
            return f"{where} - no change beyond the band"
        if self.change is None:  # not judged (too few older rows): the values alone
            return where
        worse = (self.change > 0) == (self.metric in LOWER_IS_BETTER)
        if worse:
            return f"{where}, fell by {abs(self.change):.4f}: the concept changed under the champion"
        return (
            f"{where}, rose by {abs(self.change):.4f}: the older rows belong to a concept "
            "the champion no longer fits"
        )


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _batches(ids: Sequence[int]) -> str:
    if not ids:
        return "no batch"
    word = "batch" if len(ids) == 1 else "batches"
    return f"{word} {', '.join(str(i) for i in ids)}"


def _newest_words(b: EvaluationBasis) -> str:
    if b.recent_days is not None:
        return f"the last {b.recent_days:g} days: {_batches(b.recent_batches)}"
    return _batches(b.recent_batches)


def detect_change(
    check: ChampionOnRows, *, drop_limit: float, sigmas: float
) -> tuple[bool, float | None, float | None, float | None]:
    """(changed, change, band_low, band_high): the recent value differs from the older one by more
    than ``drop_limit`` and its band excludes the older value (either direction)."""
    if check.recent is None or check.older is None:
        return False, None, None, None
    b = band(check.recent, check.recent_sigma, sigmas, check.metric)
    change = check.recent - check.older
    beyond = abs(change) > drop_limit + EPS
    excluded = b.upper < check.older or b.lower > check.older
    return beyond and excluded, change, b.lower, b.upper


def choose_basis(
    mode: EvaluateOn,
    check: ChampionOnRows | None,
    *,
    trigger: str,
    drop_limit: float,
    sigmas: float,
    min_rows: int,
    train_on_change: bool,
    recent_batches: Sequence[int],
    older_batches: Sequence[int],
    recent_days: float | None = None,
    holdout_rows: tuple[int, int] = (0, 0),
) -> EvaluationBasis:
    """The evaluation rows for one run (see the module docstring); ``min_rows``: the holdout rows each
    part needs before a change is judged (and before ``recent`` is used at all); ``holdout_rows``:
    (newest, all) holdout rows, for the record when the champion was not scored."""
    base: dict[str, Any] = {
        "recent_batches": tuple(int(b) for b in recent_batches),
        "older_batches": tuple(int(b) for b in older_batches),
        "recent_days": recent_days,
        "drop_limit": drop_limit,
        "recent_rows": holdout_rows[0],
        "window_rows": holdout_rows[1],
    }
    if check is not None:
        base.update(
            measured_rows=check.recent_rows,
            metric=check.metric,
            champion_recent=check.recent,
            champion_older=check.older,
            sigma=check.recent_sigma,
        )
    if mode == "window":
        return EvaluationBasis("window", "configured_window", **base)
    if check is None:
        return EvaluationBasis("window", "no_champion", **base)
    if check.recent_rows < min_rows or holdout_rows[0] < min_rows:
        return EvaluationBasis("window", "too_few_rows", **base)
    changed = False
    if check.older_rows >= min_rows:
        changed, change, low, high = detect_change(check, drop_limit=drop_limit, sigmas=sigmas)
        base.update(change=change, band_low=low, band_high=high)
    if changed:
        return EvaluationBasis("recent", "performance_change", train_on_recent=train_on_change, **base)
    if mode == "recent":
        return EvaluationBasis("recent", "configured_recent", **base)
    if trigger == DRIFT_TRIGGER:
        return EvaluationBasis("recent", "drift_trigger", **base)
    if check.older_rows < min_rows:
        return EvaluationBasis("window", "too_few_rows", **base)
    return EvaluationBasis("window", "no_change", **base)
