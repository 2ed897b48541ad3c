"""Trigger evaluation: every trigger, their combinations and the cooldown, with exact numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evergreen.config import DriftTrigger, TriggersConfig
from evergreen.errors import (
    ChampionUnavailableError,
    DataValidationError,
    LockHeldError,
    ModelsBusyError,
    RegistryError,
    StoreError,
    is_transient,
)
from evergreen.triggers.evaluate import (
    DriftFacts,
    ManualRequest,
    PerformanceFacts,
    TriggerState,
    combine,
    evaluate,
    evaluate_triggers,
)
from evergreen.triggers.execute import backoff_delay, retrain_request

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
CFG = TriggersConfig.model_validate(
    {
        "schedule": "0 2 * * 1",
        "new_data": {"min_rows": 1000},
        "drift": {"share": 0.3},
        "performance": {"metric": "f1_macro", "min": 0.75},
        "cooldown_minutes": 60,
    }
)


def state(**kw: object) -> TriggerState:
    base: dict[str, object] = {"watching_since": T0}
    base.update(kw)
    return TriggerState(**base)  # type: ignore[arg-type]


def kinds(fired: list) -> list[str]:
    return [f.kind for f in fired]


def test_nothing_fires_on_a_quiet_project():
    assert evaluate_triggers(state(), CFG, T0 + timedelta(hours=1)) == []


def test_schedule_fires_once_per_tick():
    at = datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC)
    [f] = evaluate_triggers(state(), CFG, at)
    assert (f.kind, f.cause) == ("schedule", "schedule:2026-03-02T02:00:00+00:00")
    assert f.reason == "schedule '0 2 * * 1': tick at 2026-03-02T02:00:00+00:00"
    # Once a scheduled run started after the tick, the same tick is past.
    done = state(last_scheduled_run=datetime(2026, 3, 2, 2, 0, 31, tzinfo=UTC))
    assert evaluate_triggers(done, CFG, datetime(2026, 3, 8, 23, 59, tzinfo=UTC)) == []
    assert kinds(evaluate_triggers(done, CFG, datetime(2026, 3, 9, 2, 0, tzinfo=UTC))) == ["schedule"]


def test_schedule_tick_exactly_now_and_ticks_before_watching_do_not_count():
    assert kinds(evaluate_triggers(state(), CFG, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))) == ["schedule"]
    assert evaluate_triggers(state(), CFG, datetime(2026, 3, 2, 1, 59, 59, tzinfo=UTC)) == []
    late = state(watching_since=datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    assert evaluate_triggers(late, CFG, datetime(2026, 3, 2, 4, 0, tzinfo=UTC)) == []


def test_new_data_needs_min_rows_since_champion_and_since_last_attempt():
    s = state(champion_version="3", rows_since_champion=1000, rows_since_last_attempt=1000, newest_batch_id=7)
    [f] = evaluate_triggers(s, CFG, T0)
    assert f.kind == "new_data" and f.cause == "new_data:batch:7"
    assert f.numbers == {
        "rows_since_champion": 1000,
        "rows_since_last_attempt": 1000,
        "min_rows": 1000,
        "newest_batch_id": 7,
    }
    assert f.reason == (
        "new data: 1000 labelled rows since the champion's dataset (champion v3), 1000 since the last run;"
        " min_rows 1000"
    )
    assert (
        evaluate_triggers(
            state(rows_since_champion=999, rows_since_last_attempt=999, newest_batch_id=7), CFG, T0
        )
        == []
    )
    # A rejected candidate already tried these rows: wait for min_rows more.
    assert (
        evaluate_triggers(
            state(rows_since_champion=2500, rows_since_last_attempt=400, newest_batch_id=9), CFG, T0
        )
        == []
    )


def test_drift_fires_at_the_share_for_reports_newer_than_the_last_retrain():
    report = DriftFacts(report_id=12, report_date=T0, share=0.3, drift_detected=True)
    [f] = evaluate_triggers(state(drift=report), CFG, T0 + timedelta(minutes=5))
    assert (f.kind, f.cause, f.numbers["share"], f.numbers["threshold"]) == (
        "drift",
        "drift:report:12",
        0.3,
        0.3,
    )
    assert (
        f.reason
        == "drift: 30.0% of columns drifted in report 12 (2026-03-02T00:00:00+00:00); threshold 30.0%"
    )
    below = DriftFacts(report_id=13, report_date=T0, share=0.2999, drift_detected=False)
    assert evaluate_triggers(state(drift=below), CFG, T0) == []
    stale = state(drift=report, last_retrain=T0 + timedelta(seconds=1))
    assert evaluate_triggers(stale, CFG, T0 + timedelta(hours=1, minutes=30)) == []
    # null turns the trigger off: the same report fires nothing.
    off = CFG.model_copy(update={"drift": DriftTrigger(share=None)})
    assert evaluate_triggers(state(drift=report), off, T0 + timedelta(minutes=5)) == []
    # A run that found nothing new to learn (skipped) answered the report too, without a cooldown.
    answered = state(drift=report, last_attempt=T0 + timedelta(seconds=1))
    assert evaluate(answered, CFG, T0 + timedelta(minutes=5)) == evaluate(
        state(), CFG, T0 + timedelta(minutes=5)
    )


def test_performance_fires_below_min_live_or_estimated():
    live = PerformanceFacts(report_id=4, report_date=T0, metric="f1_macro", value=0.7412, estimated=False)
    [f] = evaluate_triggers(state(performance=live), CFG, T0)
    assert f.kind == "performance"
    assert f.reason == (
        "performance: live f1_macro 0.7412 is below the minimum 0.7500 (report 4, 2026-03-02T00:00:00+00:00)"
    )
    assert f.numbers == {
        "metric": "f1_macro",
        "value": 0.7412,
        "sigma": None,
        "band": [0.7412, 0.7412],
        "min": 0.75,
        "baseline": None,
        "drop": None,
        "drop_limit": None,
        "estimated": False,
        "report_id": 4,
    }
    est = PerformanceFacts(report_id=5, report_date=T0, metric="f1_macro", value=0.70, estimated=True)
    assert evaluate_triggers(state(performance=est), CFG, T0)[0].reason.startswith("performance: estimated")
    ok = PerformanceFacts(report_id=6, report_date=T0, metric="f1_macro", value=0.75, estimated=False)
    assert evaluate_triggers(state(performance=ok), CFG, T0) == []
    other = PerformanceFacts(report_id=7, report_date=T0, metric="accuracy", value=0.1, estimated=False)
    assert evaluate_triggers(state(performance=other), CFG, T0) == []


def test_performance_fires_only_when_the_band_is_beyond_the_limit():
    # The same rule as the report and the alert: drop above the limit AND the band wholly below.
    def facts(value: float, sigma: float | None) -> PerformanceFacts:
        return PerformanceFacts(4, T0, "f1_macro", value, False, sigma, baseline=0.9, drop_limit=0.05)

    no_floor = CFG.model_copy(update={"performance": CFG.performance.model_copy(update={"min": None})})
    # drop 0.1, band 0.80 +- 3 * 0.04 = [0.68, 0.92] reaches the holdout 0.9: noise, no retrain
    assert evaluate_triggers(state(performance=facts(0.80, 0.04)), no_floor, T0) == []
    [f] = evaluate_triggers(state(performance=facts(0.80, 0.02)), no_floor, T0)  # band [0.74, 0.86]
    assert f.reason == (
        "performance: live f1_macro 0.8000 (band 0.7400 to 0.8600) is 0.1000 worse than the champion's "
        "holdout 0.9000 (limit 0.05) (report 4, 2026-03-02T00:00:00+00:00)"
    )
    # below the minimum 0.75 by value, but the band [0.62, 0.86] reaches it: no firing on the floor
    near = PerformanceFacts(4, T0, "f1_macro", 0.74, False, 0.04)
    assert evaluate_triggers(state(performance=near), CFG, T0) == []


def test_error_metric_fires_above_its_maximum():
    cfg = CFG.model_copy(
        update={"performance": CFG.performance.model_copy(update={"metric": "rmse", "min": 2.5})}
    )
    high = PerformanceFacts(report_id=1, report_date=T0, metric="rmse", value=2.51, estimated=False)
    assert evaluate_triggers(state(performance=high), cfg, T0)[0].reason.startswith(
        "performance: live rmse 2.5100 is above the maximum 2.5000"
    )
    low = PerformanceFacts(report_id=1, report_date=T0, metric="rmse", value=2.4, estimated=False)
    assert evaluate_triggers(state(performance=low), cfg, T0) == []


def test_manual_requests_fire_each_and_ignore_the_cooldown():
    reqs = (
        ManualRequest("r1", "new features", "api:alice", T0, force=True),
        ManualRequest("r2", None, None, T0 + timedelta(seconds=1)),
    )
    s = state(manual=reqs, last_retrain=T0, drift=DriftFacts(1, T0 + timedelta(minutes=1), 0.9, True))
    ev = evaluate(s, CFG, T0 + timedelta(minutes=10))
    assert [(f.kind, f.request_id, f.actor) for f in ev.firings] == [
        ("manual", "r1", "api:alice"),
        ("manual", "r2", None),
    ]
    assert ev.firings[1].reason == "manual request r2 by unknown: no reason given"
    assert kinds(list(ev.suppressed)) == ["drift"]
    assert ev.cooldown_until == T0 + timedelta(minutes=60)


def test_cooldown_boundary_is_exact():
    s = state(last_retrain=T0, drift=DriftFacts(1, T0 + timedelta(minutes=1), 0.5, True))
    assert evaluate_triggers(s, CFG, T0 + timedelta(minutes=59, seconds=59)) == []
    assert kinds(evaluate_triggers(s, CFG, T0 + timedelta(minutes=60))) == ["drift"]
    no_cooldown = CFG.model_copy(update={"cooldown_minutes": 0})
    assert kinds(evaluate_triggers(s, no_cooldown, T0 + timedelta(minutes=2))) == ["drift"]


def test_all_triggers_together_make_one_run_named_by_priority():
    s = state(
        rows_since_champion=1500,
        rows_since_last_attempt=1500,
        newest_batch_id=3,
        drift=DriftFacts(2, T0, 0.4, True),
        performance=PerformanceFacts(2, T0, "f1_macro", 0.6, False),
        manual=(ManualRequest("r9", "go", "cli:bob", T0),),
    )
    fired = evaluate_triggers(s, CFG, datetime(2026, 3, 2, 2, 0, 1, tzinfo=UTC))
    assert kinds(fired) == ["manual", "performance", "drift", "new_data", "schedule"]
    kind, reason = combine(fired)
    assert kind == "manual" and reason.count(" | ") == 4
    req = retrain_request(fired)
    assert (req.trigger, req.actor, req.force) == ("manual", "cli:bob", False)
    auto = retrain_request(fired[1:])
    assert (auto.trigger, auto.actor) == ("performance", "system")
    assert auto.reason is not None and auto.reason.startswith("performance: live f1_macro 0.6000")


def test_exhausted_causes_do_not_fire_again_until_the_fact_changes():
    s = state(
        rows_since_champion=1200,
        rows_since_last_attempt=1200,
        newest_batch_id=5,
        exhausted_causes=frozenset({"new_data:batch:5"}),
    )
    assert evaluate_triggers(s, CFG, T0) == []
    newer = state(
        rows_since_champion=1300,
        rows_since_last_attempt=1300,
        newest_batch_id=6,
        exhausted_causes=frozenset({"new_data:batch:5"}),
    )
    assert [f.cause for f in evaluate_triggers(newer, CFG, T0)] == ["new_data:batch:6"]


def test_backoff_and_transient_errors():
    assert [backoff_delay(a, 30, 600) for a in (1, 2, 3, 4, 5, 6)] == [30, 60, 120, 240, 480, 600]
    assert is_transient(StoreError("db down")) and is_transient(RegistryError("mlflow down"))
    assert not is_transient(ChampionUnavailableError("gone"))
    assert not is_transient(DataValidationError("bad", reason="x"))
    assert not is_transient(RuntimeError("bug"))
    # The models lease held past the promote stage's wait: retried later; another retrain's lock is
    # no failure at all (the executor waits for it), so it is not "transient" either.
    assert is_transient(ModelsBusyError("held")) and not is_transient(LockHeldError("held"))


def test_combine_needs_a_firing():
    with pytest.raises(ValueError):
        combine([])


def test_a_report_without_a_verdict_fires_nothing():
    from types import SimpleNamespace

    from evergreen.triggers.state import performance_from

    perf = {"metric": "f1_macro", "realised": 0.1, "estimated": None, "verdict": "insufficient_data"}
    row = SimpleNamespace(id=3, report_date=T0, details={"status": "insufficient_data", "performance": perf})
    assert performance_from(row, "f1_macro") is None
    # Its data_drift_score is NULL: the drift trigger has no share to compare.
    few = DriftFacts(report_id=3, report_date=T0, share=None, drift_detected=False)
    assert evaluate_triggers(state(drift=few), CFG, T0) == []
    judged = SimpleNamespace(
        id=4,
        report_date=T0,
        details={
            "status": "tested",
            "performance": {
                **perf,
                "verdict": "ok",
                "sigma": 0.01,
                "baseline": 0.8,
                "threshold": 0.05,
                "band_sigmas": 2.0,
            },
        },
    )
    facts = performance_from(judged, "f1_macro")
    assert facts == PerformanceFacts(4, T0, "f1_macro", 0.1, False, 0.01, 0.8, 0.05, 2.0)
