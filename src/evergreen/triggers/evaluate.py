"""Which retrain triggers fire, decided from facts only (pure: no clock, no I/O).

Every firing names its ``cause``: a stable key for the fact that made it fire (the cron tick, the
newest batch id, the drift report id, the request id). A cause the scheduler already tried and that
failed deterministically is passed back in ``state.exhausted_causes`` and never fires again, which
is what keeps a bad batch or a bug from being retrained in a loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from evergreen.config import LOWER_IS_BETTER, TRIGGER_KINDS, TriggersConfig
from evergreen.evaluation.bands import judge_performance

# When several triggers fire at once they make one run; the run carries the first kind in this order.
PRIORITY = TRIGGER_KINDS


@dataclass(frozen=True)
class ManualRequest:
    id: str
    reason: str | None
    actor: str | None
    requested_at: datetime
    force: bool = False


@dataclass(frozen=True)
class DriftFacts:
    report_id: int
    report_date: datetime
    share: float | None  # share of drifted columns (``data_drift_score``)
    drift_detected: bool


@dataclass(frozen=True)
class PerformanceFacts:
    report_id: int
    report_date: datetime
    metric: str
    value: float
    estimated: bool  # True: CBPE / DLE estimate, no labels yet
    sigma: float | None = None  # sampling error of ``value`` on the window's rows
    baseline: float | None = None  # the champion's holdout value
    drop_limit: float | None = None  # monitoring.performance_drop when the report was made
    band_sigmas: float = 3.0


@dataclass(frozen=True)
class TriggerState:
    """What the triggers look at; gathered by :mod:`evergreen.triggers.state`."""

    watching_since: datetime  # schedule ticks before this (and before the last scheduled run) are past
    last_scheduled_run: datetime | None = None  # start of the newest run with trigger "schedule"
    last_retrain: datetime | None = None  # start of the newest run that was not skipped (cooldown)
    last_attempt: datetime | None = None  # start of the newest run that completed or runs, skips too
    champion_version: str | None = None
    rows_since_champion: int = 0  # labelled rows accepted after the champion's dataset
    rows_since_last_attempt: int = 0  # ... and after the newest run's dataset (rejected runs count)
    newest_batch_id: int | None = None
    drift: DriftFacts | None = None
    performance: PerformanceFacts | None = None
    manual: tuple[ManualRequest, ...] = ()
    exhausted_causes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TriggerFiring:
    kind: str  # schedule | new_data | drift | performance | manual
    reason: str
    cause: str
    numbers: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    actor: str | None = None  # who asked (manual requests only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    firings: tuple[TriggerFiring, ...]
    suppressed: tuple[TriggerFiring, ...]  # would fire, but inside the cooldown
    cooldown_until: datetime | None


def _schedule(state: TriggerState, cfg: TriggersConfig, now: datetime) -> TriggerFiring | None:
    if not cfg.schedule:
        return None
    tick: datetime = croniter(cfg.schedule, now).get_prev(datetime)
    # A tick at exactly ``now`` is due now: croniter's get_prev is strictly before ``now``.
    if croniter.match(cfg.schedule, now) and now.second == 0 and now.microsecond == 0:
        tick = now
    since = max(state.watching_since, state.last_scheduled_run or state.watching_since)
    if tick <= since:
        return None
    return TriggerFiring(
        kind="schedule",
        reason=f"schedule {cfg.schedule!r}: tick at {tick.isoformat()}",
        cause=f"schedule:{tick.isoformat()}",
        numbers={"tick": tick.isoformat(), "schedule": cfg.schedule},
    )


def _new_data(state: TriggerState, cfg: TriggersConfig) -> TriggerFiring | None:
    # Both counts must reach min_rows: since the champion (the contract) and since the last attempt,
    # so a rejected candidate is not retrained on the same rows until min_rows more have arrived.
    new = min(state.rows_since_champion, state.rows_since_last_attempt)
    if new < cfg.new_data.min_rows or state.newest_batch_id is None:
        return None
    base = f"champion v{state.champion_version}" if state.champion_version else "no champion yet"
    return TriggerFiring(
        kind="new_data",
        reason=(
            f"new data: {state.rows_since_champion} labelled rows since the champion's dataset "
            f"({base}), {state.rows_since_last_attempt} since the last run; min_rows {cfg.new_data.min_rows}"
        ),
        cause=f"new_data:batch:{state.newest_batch_id}",
        numbers={
            "rows_since_champion": state.rows_since_champion,
            "rows_since_last_attempt": state.rows_since_last_attempt,
            "min_rows": cfg.new_data.min_rows,
            "newest_batch_id": state.newest_batch_id,
        },
    )


def _is_new(report_date: datetime, state: TriggerState) -> bool:
    # A run that started after the report already answered it (even one that found nothing new to
    # learn); a report older than that run describes a model the run may have replaced.
    seen = max((t for t in (state.last_retrain, state.last_attempt) if t is not None), default=None)
    return seen is None or report_date > seen


def _drift(state: TriggerState, cfg: TriggersConfig) -> TriggerFiring | None:
    d, threshold = state.drift, cfg.drift.share
    if threshold is None:  # the drift trigger is off
        return None
    if d is None or d.share is None or not _is_new(d.report_date, state) or d.share < threshold:
        return None
    return TriggerFiring(
        kind="drift",
        reason=(
            f"drift: {d.share:.1%} of columns drifted in report {d.report_id} "
            f"({d.report_date.isoformat()}); threshold {threshold:.1%}"
        ),
        cause=f"drift:report:{d.report_id}",
        numbers={
            "share": d.share,
            "threshold": threshold,
            "report_id": d.report_id,
            "drift_detected": d.drift_detected,
        },
    )


def _performance(state: TriggerState, cfg: TriggersConfig) -> TriggerFiring | None:
    p, want = state.performance, cfg.performance
    if p is None or not _is_new(p.report_date, state):
        return None
    if want.metric is not None and p.metric != want.metric:
        return None
    # The same rule as the monitoring report and the performance alert (evaluation.bands).
    j = judge_performance(
        p.metric,
        p.value,
        p.sigma,
        baseline=p.baseline,
        drop_limit=p.drop_limit,
        sigmas=p.band_sigmas,
        floor=want.min,
    )
    if not j.degraded or j.band is None:
        return None
    kind_of = "estimated" if p.estimated else "live"
    band_text = "" if p.sigma is None else f" (band {j.band.lower:.4f} to {j.band.upper:.4f})"
    why = []
    if j.below_floor:
        side = "above the maximum" if p.metric in LOWER_IS_BETTER else "below the minimum"
        why.append(f"{side} {want.min:.4f}")
    if j.dropped:
        why.append(
            f"{j.drop:.4f} worse than the champion's holdout {p.baseline:.4f} (limit {p.drop_limit:g})"
        )
    return TriggerFiring(
        kind="performance",
        reason=(
            f"performance: {kind_of} {p.metric} {p.value:.4f}{band_text} is {' and '.join(why)} "
            f"(report {p.report_id}, {p.report_date.isoformat()})"
        ),
        cause=f"performance:report:{p.report_id}",
        numbers={
            "metric": p.metric,
            "value": p.value,
            "sigma": p.sigma,
            "band": [j.band.lower, j.band.upper],
            "min": want.min,
            "baseline": p.baseline,
            "drop": j.drop,
            "drop_limit": p.drop_limit,
            "estimated": p.estimated,
            "report_id": p.report_id,
        },
    )


def _manual(state: TriggerState) -> list[TriggerFiring]:
    return [
        TriggerFiring(
            kind="manual",
            reason=f"manual request {r.id} by {r.actor or 'unknown'}: {r.reason or 'no reason given'}",
            cause=f"manual:{r.id}",
            numbers={"requested_at": r.requested_at.isoformat(), "force": r.force},
            request_id=r.id,
            actor=r.actor,
        )
        for r in state.manual
    ]


def evaluate(state: TriggerState, config: TriggersConfig, now: datetime) -> Evaluation:
    """Every trigger that fires at ``now``, split into those to act on and those in the cooldown."""
    automatic = [
        f
        for f in (
            _performance(state, config),
            _drift(state, config),
            _new_data(state, config),
            _schedule(state, config, now),
        )
        if f is not None and f.cause not in state.exhausted_causes
    ]
    until = None
    if state.last_retrain is not None and config.cooldown_minutes > 0:
        until = state.last_retrain + timedelta(minutes=config.cooldown_minutes)
    cooling = until is not None and now < until
    manual = tuple(_manual(state))  # a person asking is never held back by the cooldown
    if cooling:
        return Evaluation(manual, tuple(automatic), until)
    return Evaluation((*manual, *automatic), (), until)


def evaluate_triggers(state: TriggerState, config: TriggersConfig, now: datetime) -> list[TriggerFiring]:
    """The firings to act on at ``now`` (manual first, then by :data:`PRIORITY`)."""
    return list(evaluate(state, config, now).firings)


def combine(firings: list[TriggerFiring] | tuple[TriggerFiring, ...]) -> tuple[str, str]:
    """One run for several firings: (trigger kind recorded on the run, reason naming every firing)."""
    if not firings:
        raise ValueError("nothing fired")
    ordered = sorted(firings, key=lambda f: PRIORITY.index(f.kind))
    return ordered[0].kind, " | ".join(f.reason for f in ordered)
