"""Alerts across processes: one live alert per cause (migration 0010's partial unique index), and an
alert counts as sent only once a delivery is recorded, so a crash before delivery re-sends it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from evergreen.alerts import Facts
from evergreen.alerts import repository as repo
from evergreen.alerts.repository import gather_drift, list_alerts, list_deliveries
from evergreen.alerts.service import AlertService
from evergreen.store.tables import alerts
from tests.support.alerts import add_report, make_project
from tests.support.cli import ROOT


def _live(project: Any) -> int:
    with project.store.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(alerts).where(alerts.c.status != "resolved")
            ).scalar()
        )


def test_two_services_racing_on_postgresql_open_one_alert(
    tmp_path: Path, postgres_url: str, http_receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = [{"type": "webhook", "url": http_receiver.url("/h"), "min_level": "warning"}]
    a = make_project(tmp_path / "a", postgres_url, channels=channels)
    b = make_project(tmp_path / "b", postgres_url, channels=channels)
    add_report(a, 0.15)
    facts = Facts(drift=gather_drift(a.store))
    services = [AlertService(a), AlertService(b)]
    real = repo.live_alerts
    for round_ in range(3):  # the first round races the insert, the next ones the update
        # The race forced: neither service acts before both have read the live alerts, so in the
        # first round both read "none" and both insert; the database refuses the second.
        both_read = threading.Barrier(2)
        first_read = threading.local()

        def live_alerts(store: Any, both_read: threading.Barrier = both_read, first: Any = first_read) -> Any:
            found = real(store)
            if not getattr(first, "done", False):  # only the evaluation's own read, not the loser's
                first.done = True
                both_read.wait(120)
            return found

        monkeypatch.setattr(repo, "live_alerts", live_alerts)
        results: list[Any] = []

        def evaluate(svc: AlertService, results: list[Any] = results) -> None:
            try:
                results.append(svc.raise_alerts(facts))
            except BaseException as exc:  # a thread's error is lost unless the test keeps it
                results.append(exc)

        threads = [threading.Thread(target=evaluate, args=(s,)) for s in services]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all(isinstance(r, list) for r in results) and len(results) == 2, results
        assert len({change.alert_id for r in results for change in r}) == 1, results
        assert _live(a) == 1, f"round {round_}"
    monkeypatch.setattr(repo, "live_alerts", real)
    assert all(s.flush(30) for s in services)
    assert [body["event"] for body in http_receiver.bodies("/h")] == ["opened"]
    for s in services:
        s.close()


def test_the_process_that_loses_the_insert_updates_the_winners_alert(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The interleaving of a race, made exact: A read "no live alert", then B opened one, then A acts.
    a = make_project(tmp_path / "a", postgres_url)
    b = make_project(tmp_path / "b", postgres_url)
    add_report(a, 0.15)
    facts = Facts(drift=gather_drift(a.store))
    stale = repo.live_alerts(a.store)
    assert stale == {}
    [opened] = AlertService(b).raise_alerts(facts)
    reads = iter([stale])
    real = repo.live_alerts
    monkeypatch.setattr(repo, "live_alerts", lambda store: next(reads, None) or real(store))
    [change] = AlertService(a).raise_alerts(facts)
    assert (change.alert_id, change.change, change.event) == (opened.alert_id, "updated", None)
    [row] = list_alerts(a.store)
    assert (row["id"], row["seen_count"]) == (opened.alert_id, 2)


@pytest.fixture
def stalling_hook() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event, threading.Event]]:
    """A webhook that holds its first request until ``release`` is set, and answers the rest at once."""
    import json

    got: list[dict[str, Any]] = []
    first_arrived, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            got.append(body)
            if len(got) == 1:
                first_arrived.set()
                release.wait(60)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/h", got, first_arrived, release
    release.set()
    server.shutdown()
    server.server_close()


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from evergreen.alerts import Facts
    from evergreen.alerts.repository import gather_drift
    from evergreen.alerts.service import AlertService
    from tests.support.alerts import make_project

    project = make_project(Path(sys.argv[1]), sys.argv[2], channels=[
        {"type": "webhook", "url": sys.argv[3], "min_level": "warning", "timeout_seconds": 120}])
    AlertService(project).raise_alerts(Facts(drift=gather_drift(project.store)))
    print("opened", flush=True)
    time.sleep(600)  # killed while its delivery is in flight
    """
)


def test_a_crash_before_the_delivery_is_recorded_sends_the_alert_again(tmp_path: Path, stalling_hook) -> None:
    url, got, first_arrived, release = stalling_hook
    db = f"sqlite:///{tmp_path}/m.db"
    project = make_project(
        tmp_path / "p", db, channels=[{"type": "webhook", "url": url, "min_level": "warning"}]
    )
    add_report(project, 0.15)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "child"), db, url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first_arrived.wait(120), "the child never sent its alert"
        child.send_signal(signal.SIGKILL)  # dies mid-delivery: no delivery row, the alert not marked sent
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    release.set()
    [row] = list_alerts(project.store)
    assert (row["status"], row["sent_level"], row["last_sent_at"]) == ("open", None, None)
    # Only the log channel's line was recorded; the webhook's attempt died with the process.
    assert [(d["channel_type"], d["status"]) for d in list_deliveries(project.store, row["id"])] == [
        ("log", "sent")
    ]

    # The next process evaluating the rules sends it, and this time the delivery marks it sent.
    svc = AlertService(project)
    facts = Facts(drift=gather_drift(project.store))
    opened_at = datetime.fromisoformat(row["opened_at"])
    # Within the grace its first delivery could still be in flight elsewhere: nothing is sent yet.
    assert svc.raise_alerts(facts, now=opened_at + timedelta(seconds=30))[0].event is None
    [change] = svc.raise_alerts(facts, now=opened_at + timedelta(minutes=2))
    assert (change.alert_id, change.event) == (row["id"], "opened")
    assert svc.flush(30)
    assert [(b["event"], b["alert"]["id"]) for b in got] == [("opened", row["id"]), ("opened", row["id"])]
    [after] = list_alerts(project.store)
    assert after["sent_level"] == "warning" and after["last_sent_at"] is not None
    deliveries = [(d["channel_type"], d["status"]) for d in list_deliveries(project.store, row["id"])]
    assert deliveries == [("log", "sent"), ("log", "sent"), ("webhook", "sent")]
    svc.close()


def test_a_delivery_whose_mark_failed_is_sent_again_by_the_next_evaluation(
    tmp_path: Path, http_receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path / "p",
        f"sqlite:///{tmp_path}/m.db",
        channels=[{"type": "webhook", "url": http_receiver.url("/h"), "min_level": "warning"}],
    )
    add_report(project, 0.15)
    facts = Facts(drift=gather_drift(project.store))
    real = repo.mark_sent
    fails = iter([True])

    def mark_sent(*args: Any) -> None:
        if next(fails, False):
            raise RuntimeError("metadata database unavailable")
        real(*args)

    monkeypatch.setattr(repo, "mark_sent", mark_sent)
    svc = AlertService(project)
    [first] = svc.raise_alerts(facts)
    assert first.event == "opened" and svc.flush(30)
    [row] = list_alerts(project.store)
    assert row["sent_level"] is None  # delivered, but not marked: still unsent
    # The same process sends it again (after the grace): its first message is no longer in flight.
    [again] = svc.raise_alerts(facts, now=datetime.fromisoformat(row["opened_at"]) + timedelta(minutes=2))
    assert again.event == "opened" and svc.flush(30)
    assert [b["event"] for b in http_receiver.bodies("/h")] == ["opened", "opened"]
    assert list_alerts(project.store)[0]["sent_level"] == "warning"
    svc.close()


@pytest.mark.parametrize("second", ["acknowledge", "resolve"])
def test_two_processes_acting_on_one_alert_at_once_one_wins(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    from evergreen.alerts.rules import AlertCandidate
    from evergreen.errors import ConflictError
    from evergreen.store.audit import list_actions
    from evergreen.store.engine import utcnow

    a = make_project(tmp_path / "a", postgres_url)  # e.g. the CLI ...
    b = make_project(tmp_path / "b", postgres_url)  # ... and a server: two services, two in-process locks
    alert_id = repo.insert_alert(a.store, AlertCandidate("drift:7d", "drift", "alert", "drift"), utcnow())
    assert alert_id is not None
    # The race forced: neither writes before both have read the alert as open.
    both_read = threading.Barrier(2)
    real = repo.get_alert
    first = threading.local()

    def get_alert(store: Any, aid: int) -> Any:
        row = real(store, aid)
        if not getattr(first, "done", False):  # the transition's own read, not the one after it
            first.done = True
            both_read.wait(120)
        return row

    monkeypatch.setattr(repo, "get_alert", get_alert)
    cli, server = AlertService(a), AlertService(b)
    calls = [
        lambda: cli.acknowledge(alert_id, actor="cli:ann", reason="seen"),
        lambda: getattr(server, second)(alert_id, actor="api:bob", reason="fixed"),
    ]
    results: list[str] = []

    def call(act: Any) -> None:
        try:
            results.append(act()["status"])
        except ConflictError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=call, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) in (["acknowledged", "conflict"], ["conflict", "resolved"]), results
    [done] = [r for r in results if r != "conflict"]
    # Exactly one action recorded, and the alert says what that action did (a resolved alert is
    # never set back to acknowledged by the loser).
    audited = [x["action"] for x in list_actions(a.store) if x["target"] == f"alert:{alert_id}"]
    assert audited == [{"acknowledged": "alert_acknowledged", "resolved": "alert_resolved"}[done]]
    assert real(a.store, alert_id)["status"] == done
    cli.close()
    server.close()
    a.store.engine.dispose()
    b.store.engine.dispose()


def test_an_older_evaluations_mark_arriving_late_does_not_move_the_alert_back(tmp_path: Path) -> None:
    """Each channel has its own delivery thread: a slow Slack's mark for "opened" (warning) could land
    after a fast webhook's for "escalated" (critical), setting sent_level and last_sent_at back."""
    from evergreen.alerts.rules import AlertCandidate

    project = make_project(tmp_path / "p", f"sqlite:///{tmp_path}/m.db")
    t0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    cand = AlertCandidate("drift", "drift", "warning", "drift 0.4", {})
    alert_id = repo.insert_alert(project.store, cand, t0)
    assert alert_id is not None
    repo.mark_sent(project.store, alert_id, "critical", t0 + timedelta(minutes=5))  # the newer one
    repo.mark_sent(project.store, alert_id, "warning", t0)  # the older one, late
    row = repo.get_alert(project.store, alert_id)
    assert row["sent_level"] == "critical"
    assert datetime.fromisoformat(str(row["last_sent_at"])).replace(tzinfo=UTC) == t0 + timedelta(minutes=5)
