"""Warm candidates: a registered version is loaded before its promotion, so the promotion is a
pointer swap; an untrusted one is refused and never served; at most one candidate is kept warm.

``watcher.prewarm(version)`` is what the LISTEN thread calls on a ``registered`` notice (called here
from the test's thread, as that thread does); the last test sends the real PostgreSQL NOTIFY.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evergreen.control import promote
from evergreen.store.audit import list_actions
from tests.support.serving import (
    RECORD,
    clone_version,
    live,
    settings_with,
    tampered_version,
    wait_until,
)


def _failures(srv: Any, role: str) -> float:
    return float(srv.ctx.metrics.swap_failures.labels(role)._value.get())


def _moved(srv: Any, move: Callable[[], Any]) -> None:
    """``move`` the alias, then wake the watcher as the NOTIFY sent after the move's audit row would
    (the poll is an hour: a poll landing between the alias and the audit row would not see the watch
    yet); return once that check, the shadow's part included, is over."""
    w = srv.ctx.watcher
    wait_until(lambda: w.checks >= 1, "the start-up check")
    checks = w.checks
    move()
    w.wake()
    wait_until(lambda: w.checks > checks, "the check after the move")


def test_a_registered_version_is_warmed_and_its_promotion_swaps_without_a_load(
    make_app: Any, trained_project: Any
) -> None:
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    with live(make_app(reload_interval_seconds=3600)) as srv, srv.client() as c:
        w = srv.ctx.watcher
        w.prewarm(v2)
        wait_until(lambda: w.warm_version == v2, "the candidate to be warm")
        warm = w._warm
        loads = w.loads
        assert srv.ctx.holder.version == "1"  # warm, not served: its decision is still to come

        _moved(srv, lambda: promote(p, v2, actor="test"))
        assert c.post("/predict", json={"record": RECORD}).json()["model_version"] == v2
        swap = w.swaps[-1]
        assert (swap.version, swap.previous, swap.source) == (v2, "1", "warm")
        assert srv.ctx.holder.current is warm  # the very object loaded at registration
        assert w.warm_version is None  # the holder keeps it now, not the warm slot
        # No load at all: not for the swap, and not for the shadow (the watch after the promotion
        # scores the replaced champion, which was kept rather than loaded again).
        assert w.loads == loads
        assert srv.ctx.holder.shadow is not None and srv.ctx.holder.shadow.version == "1"


def test_a_version_not_warmed_loads_at_its_promotion(make_app: Any, trained_project: Any) -> None:
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    with live(make_app(reload_interval_seconds=3600)) as srv:
        w = srv.ctx.watcher
        wait_until(lambda: w.checks >= 1, "the start-up check")
        loads = w.loads
        _moved(srv, lambda: promote(p, v2, actor="test"))
        assert srv.ctx.holder.version == v2
        assert w.swaps[-1].source == "loaded" and w.loads == loads + 1
        # A rollback during the watch: the shadow (the replaced champion, kept), already in memory.
        _moved(srv, lambda: promote(p, "1", actor="test"))
        assert srv.ctx.holder.version == "1"
        assert w.swaps[-1].source == "shadow" and w.loads == loads + 1


def test_an_untrusted_registered_version_is_refused_and_never_served(
    make_app: Any, trained_project: Any
) -> None:
    p = trained_project
    bad = tampered_version(p, "1")  # one byte changed after registration: its sha256 does not match
    with live(make_app(reload_interval_seconds=3600)) as srv, srv.client() as c:
        w = srv.ctx.watcher
        w.prewarm(bad)
        # The refusal is counted, then audited; the load ends after both.
        wait_until(lambda: _failures(srv, "candidate") == 1 and w._warming is None, "the refusal")
        assert w.warm_version is None
        failed = list_actions(p.store, action="swap_failed")
        assert [(a["target"], a["before"]["role"]) for a in failed] == [(f"version:{bad}", "candidate")]
        assert "sha256" in failed[0]["reason"]

        # Promoted anyway (the alias moved outside evergreen): the load refuses it again, v1 serves on.
        _moved(srv, lambda: p.registry.set_champion(bad))
        assert _failures(srv, "champion") == 1
        assert srv.ctx.holder.version == "1"
        assert c.post("/predict", json={"record": RECORD}).json()["model_version"] == "1"
        assert [s.version for s in w.swaps] == ["1"]  # only the start-up load was ever swapped in


def test_at_most_one_candidate_is_kept_warm(make_app: Any, trained_project: Any) -> None:
    p = trained_project
    v2 = clone_version(p, "1", lambda d: None)
    v3 = clone_version(p, "1", lambda d: None)
    v4 = clone_version(p, "1", lambda d: None)
    with live(make_app()) as srv:
        w = srv.ctx.watcher
        loads = w.loads
        w.prewarm("1")  # the champion: in memory already, nothing to load
        wait_until(lambda: w._warmer is not None and w._warmer.done(), "the warmer to pass")
        assert w.loads == loads and w.warm_version is None
        w.prewarm(v2)
        wait_until(lambda: w.warm_version == v2, "v2 to be warm")
        assert w.loads == loads + 1
        w.prewarm(v3)
        wait_until(lambda: w.warm_version == v3, "v3 to be warm")
        assert w.loads == loads + 2
        # Champion, shadow (none here: no promotion yet) and ONE warm candidate.
        assert w._in_memory() == {"1", v3}
        # Registrations arriving while one loads: only the newest waits, the one between is skipped.
        w.prewarm(v2)
        w.prewarm(v4)
        wait_until(lambda: w.warm_version == v4, "v4 to be warm")
        wait_until(lambda: w._warmer.done(), "the warmer to finish")
        assert w.loads in (loads + 3, loads + 4)  # v2 again only if its load started before v4 came
        assert w._in_memory() == {"1", v4}


def test_a_registration_notice_warms_every_listening_replica(trained_project: Any, postgres_url: str) -> None:
    # The poll interval is an hour: only NOTIFYs (registered, then champion) drive this replica.
    from evergreen.project import open_project
    from evergreen.serving.app import create_app
    from evergreen.store.notify import notify_version_registered

    settings = settings_with(
        trained_project, reload_interval_seconds=3600, storage={"database_url": postgres_url}
    )
    project = open_project(settings)
    v2 = clone_version(trained_project, "1", lambda d: None)
    app = create_app(settings, project)
    try:
        with live(app) as srv, srv.client() as c:
            w = srv.ctx.watcher
            wait_until(lambda: app.state.listener.listening.is_set(), "LISTEN to be active")
            assert notify_version_registered(project.store, v2)
            wait_until(lambda: w.warm_version == v2, "the candidate to be warm")
            loads = w.loads
            promote(project, v2, actor="test")
            srv.wait_ready(v2)
            assert c.post("/predict", json={"record": RECORD}).json()["model_version"] == v2
            assert w.swaps[-1].source == "warm" and w.loads == loads
    finally:
        project.store.engine.dispose()


def test_a_replica_started_while_a_candidate_waits_warms_it(trained_project: Any, postgres_url: str) -> None:
    # Registered (and its notice sent) before this replica listened: it catches up when LISTEN starts.
    from evergreen.project import open_project
    from evergreen.serving.app import create_app
    from evergreen.store.runs import create_run, update_run

    settings = settings_with(
        trained_project, reload_interval_seconds=3600, storage={"database_url": postgres_url}
    )
    project = open_project(settings)
    v2 = clone_version(trained_project, "1", lambda d: None)
    run = create_run(project.store, trigger="manual", reason="test", actor="test")
    update_run(project.store, run, status="pending_approval", candidate_version=v2)
    app = create_app(settings, project)
    try:
        with live(app) as srv:
            w = srv.ctx.watcher
            wait_until(lambda: w.warm_version == v2, "the waiting candidate to be warm")
            assert srv.ctx.holder.version == "1"
    finally:
        project.store.engine.dispose()


def test_a_registration_heard_after_the_watcher_stopped_starts_no_load(
    make_app: Any, trained_project: Any
) -> None:
    # At shutdown the app stops the watcher, then the LISTEN thread (which keeps reading notices
    # until then): a registration in between must not start a load nothing will cancel.
    import asyncio

    v2 = clone_version(trained_project, "1", lambda d: None)
    with live(make_app(reload_interval_seconds=3600)) as srv:
        w = srv.ctx.watcher
        loop = w._loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(w.stop(), loop).result()
        w.prewarm(v2)  # from this thread, as the LISTEN thread calls it
        # Queued after prewarm's callback, so that callback has run once this returns.
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result()
        assert w._warmer is None
        assert w.warm_version is None and w._warming is None
