"""The dashboard's page queries on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from evergreen.dashboard import queries
from evergreen.store.engine import Store
from evergreen.store.runs import create_run, record_decision


def test_run_decisions_gives_each_runs_newest_decision_in_one_query(store: Store) -> None:
    a, b, c = (create_run(store, trigger="manual", reason=None, actor=None) for _ in range(3))
    record_decision(store, a, outcome="pending_approval", metric="f1_macro", justification="first")
    record_decision(store, b, outcome="rejected", metric="f1_macro", justification="only")
    record_decision(store, a, outcome="promoted", metric="f1_macro", justification="re-scored", actor="x")
    found = queries.run_decisions(store, [a, b, c])
    assert {rid: d["justification"] for rid, d in found.items()} == {a: "re-scored", b: "only"}
    assert queries.run_decisions(store, []) == {}


def test_runs_page_filters_counts_and_pages(store: Store) -> None:
    ids = [create_run(store, trigger=t, reason=None, actor=None) for t in ("manual", "drift", "drift")]
    drift = queries.runs_page(store, trigger="drift", size=1)
    assert (drift.total, drift.pages, len(drift.rows), drift.has_next) == (2, 2, 1, True)
    assert {r["id"] for r in drift.rows} <= set(ids[1:])
    assert queries.runs_page(store, trigger="drift", status="running").total == 2
    assert queries.runs_page(store, trigger="", status=None).total == 3  # empty filter: any
    assert queries.runs_page(store, status="failed").rows == []
    past = queries.runs_page(store, page=queries.MAX_PAGE + 5)  # clamped, and empty
    assert (past.page, past.rows, past.total) == (queries.MAX_PAGE, [], 3)


def test_deliveries_for_gives_every_alert_its_own_newest_ones(store: Store) -> None:
    """One limit for the whole page: an alert with many recent attempts (a channel down, retried)
    took all of it, and the alert beside it showed "None." though it had been delivered."""
    from evergreen.alerts import repository as repo
    from evergreen.alerts.rules import AlertCandidate
    from evergreen.store.engine import utcnow

    quiet, noisy = (
        repo.insert_alert(store, AlertCandidate(f"fp:{n}", "drift", "alert", n), utcnow()) for n in "ab"
    )
    assert quiet is not None and noisy is not None

    def deliver(alert_id: int, attempt: int, status: str) -> None:
        repo.record_delivery(
            store, alert_id=alert_id, channel="slack-0", channel_type="slack", event="opened",
            level="alert", attempt=attempt, status=status, error=None,
        )  # fmt: skip

    deliver(quiet, 1, "sent")
    for attempt in range(1, 21):
        deliver(noisy, attempt, "failed")
    found = queries.deliveries_for(store, [quiet, noisy], per_alert=5)
    assert [d["attempt"] for d in found[noisy]] == [20, 19, 18, 17, 16]
    assert [(d["attempt"], d["status"]) for d in found.get(quiet, [])] == [(1, "sent")]
