"""A serving replica while the metadata database (PostgreSQL) stops and comes back: the model watcher
and the LISTEN connection. The prediction log's side is in test_predictlog_outages."""

from __future__ import annotations

from typing import Any

import structlog

from tests.support.postgres import PgInstance
from tests.support.serving import clone_version, live, settings_with, wait_until


def test_the_model_watcher_logs_an_unreachable_database_as_one_line_without_a_traceback(
    trained_project: Any, own_postgres: PgInstance
) -> None:
    # Each poll asks the database which version shadows (the watch after a promotion): while it was
    # down, every poll (every reload_interval_seconds) logged an error with a whole traceback.
    from evergreen.project import open_project
    from evergreen.serving.app import create_app

    settings = settings_with(
        trained_project, reload_interval_seconds=0.2, storage={"database_url": own_postgres.url}
    )
    project = open_project(settings)
    try:
        with live(create_app(settings, project)) as srv, structlog.testing.capture_logs() as logs:
            watcher = srv.ctx.watcher
            own_postgres.stop()

            def failed_polls() -> list[dict[str, Any]]:
                return [e for e in logs if e["event"] == "model_watch_failed"]

            wait_until(lambda: len(failed_polls()) >= 3, "three polls with the database down")
            own_postgres.start()
            checks = watcher.checks
            wait_until(lambda: watcher.checks > checks + 1, "the watcher to poll again once it is back")
            with srv.client() as c:
                assert c.get("/ready").json()["model_version"] == "1"
        seen = failed_polls()
        assert {e["log_level"] for e in seen} == {"warning"}, seen[0]
        assert not [e for e in seen if e.get("exc_info")], seen[0]
        assert all(e["error"].startswith("metadata database unavailable: ") for e in seen), seen[0]
    finally:
        project.store.engine.dispose()


def test_a_champion_moved_while_the_listen_connection_was_down_is_served_once_it_reconnects(
    trained_project: Any, own_postgres: PgInstance
) -> None:
    # The NOTIFY of a move made while this replica's LISTEN connection was down (the server
    # restarting) never reaches it. Re-opening the LISTEN only warmed a pending candidate: the move
    # waited for the next poll of the registry, reload_interval_seconds later (here an hour).
    from evergreen.project import open_project
    from evergreen.serving.app import create_app

    settings = settings_with(
        trained_project, reload_interval_seconds=3600, storage={"database_url": own_postgres.url}
    )
    project = open_project(settings)
    try:
        with live(create_app(settings, project)) as srv:
            listener = srv.app.state.listener
            wait_until(listener.listening.is_set, "the replica to LISTEN")
            own_postgres.stop()
            wait_until(lambda: not listener.listening.is_set(), "the LISTEN connection to drop")
            moved = clone_version(project, "1", lambda _d: None)
            project.registry.set_champion(moved)  # another replica's move: its NOTIFY is lost here
            own_postgres.start()
            srv.wait_ready(moved)
            assert [s.version for s in srv.ctx.watcher.swaps] == ["1", moved]
    finally:
        project.store.engine.dispose()


def test_the_listen_connection_backs_off_while_the_database_is_down_and_starts_afresh_after(
    own_postgres: PgInstance,
) -> None:
    """It retried every 2 s for as long as PostgreSQL was down (a warning each time); the waits now
    double up to a cap, and a connection that listened starts again from the first wait."""
    from evergreen.serving.notify import ChampionListener
    from evergreen.store.engine import open_store

    store = open_store(own_postgres.url, "churn")
    listener = ChampionListener(store, lambda _v: None, retry_seconds=0.01, retry_max_seconds=0.04)
    with structlog.testing.capture_logs() as logs:

        def waits() -> list[float]:
            return [e["retry_in_seconds"] for e in list(logs) if e["event"] == "champion_listen_failed"]

        own_postgres.stop()
        listener.start()
        try:
            wait_until(lambda: len(waits()) >= 5, "five failed connections")
            assert waits()[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]
            own_postgres.start()
            wait_until(listener.listening.is_set, "the LISTEN back once the database is")
            before = len(waits())
            own_postgres.stop()  # the listening connection breaks: the next wait is the first again
            wait_until(lambda: len(waits()) > before, "the broken connection noticed")
            assert waits()[before] == 0.01
        finally:
            listener.stop()
            store.engine.dispose()
