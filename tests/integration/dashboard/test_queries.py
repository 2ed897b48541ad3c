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
