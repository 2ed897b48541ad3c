"""The metadata store on SQLite and PostgreSQL: migrations, lease lock, runs, audit."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, update

from evergreen.errors import LockHeldError, NotFoundError
from evergreen.store import open_store
from evergreen.store.audit import last_champion_set, list_actions, record_action
from evergreen.store.engine import utcnow
from evergreen.store.locks import LeaseLock, run_holder
from evergreen.store.runs import create_run, finish_run, get_run, list_runs, mark_abandoned
from evergreen.store.tables import locks, metadata, pipeline_runs


def test_migration_creates_every_table_and_is_idempotent(store, database_url):
    names = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names
    again = open_store(database_url, "testproj")  # second upgrade is a no-op
    assert set(inspect(again.engine).get_table_names()) == names
    again.engine.dispose()


def test_lock_is_exclusive_and_released(store):
    first = LeaseLock(store, "retrain:p").acquire()
    with pytest.raises(LockHeldError, match=r"the lock 'retrain:[^']+' is held"):
        LeaseLock(store, "retrain:p").acquire()
    first.release()
    second = LeaseLock(store, "retrain:p").acquire()
    assert second.taken_over is None
    second.release()


def test_expired_lease_is_taken_over(store):
    held = LeaseLock(store, "retrain:p").acquire()
    held._stop.set()  # the holder stops beating, as a hung or killed process would
    with store.begin() as conn:
        conn.execute(update(locks).values(expires_at=utcnow() - timedelta(seconds=1), host="other-host"))
    taker = LeaseLock(store, "retrain:p").acquire()
    assert taker.taken_over is not None and taker.taken_over.holder == held.holder
    taker.release()


def test_lock_of_a_dead_process_is_taken_over_at_once(store):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    held = LeaseLock(store, "retrain:p").acquire()
    held._stop.set()
    with store.begin() as conn:
        conn.execute(update(locks).values(pid=pid))  # lease still valid, but its holder is gone
    taker = LeaseLock(store, "retrain:p").acquire()
    assert taker.taken_over is not None and taker.taken_over.pid == pid
    taker.release()


def test_a_parked_lock_is_held_until_its_run_resumes_it_or_its_lease_runs_out(store):
    # An orchestrated run between two tasks: no process holds the lock, the run does.
    task = LeaseLock(store, "retrain:p", run_id="r1").acquire()
    assert task.park(run_holder("r1"), lease_seconds=600)
    state = task.current()
    assert state is not None
    assert (state.holder, state.run_id, state.pid, state.host, state.expired) == (
        "run:r1",
        "r1",
        None,
        None,
        False,
    )
    with pytest.raises(LockHeldError, match="holder run:r1, run r1"):
        LeaseLock(store, "retrain:p").acquire()  # a person's retrain, a scheduler's
    with pytest.raises(LockHeldError):
        LeaseLock(store, "retrain:p", resumes=run_holder("r2")).acquire()  # another run's task
    nxt = LeaseLock(store, "retrain:p", run_id="r1", resumes=run_holder("r1")).acquire()
    assert nxt.taken_over is not None and nxt.taken_over.holder == "run:r1"
    assert nxt.current().pid is not None  # held by the task's process again, heartbeat and all
    assert nxt.park(run_holder("r1"), lease_seconds=600)
    assert not task.park(run_holder("r1"), lease_seconds=600)  # no longer the old task's to hand over
    with store.begin() as conn:  # the orchestrator never came back
        conn.execute(update(locks).values(expires_at=utcnow() - timedelta(seconds=1)))
    taker = LeaseLock(store, "retrain:p").acquire()
    assert taker.taken_over is not None and taker.taken_over.holder == "run:r1"
    taker.release()


def test_an_orchestrated_run_is_abandoned_only_once_its_lock_is_free(store):
    rid = create_run(store, trigger="schedule", reason=None, actor="system", orchestrated=True)
    run = get_run(store, rid)
    assert (run["pid"], run["host"]) == (None, None)  # no process of its own: none whose death ends it
    assert mark_abandoned(store, lock_free=False) == []
    assert mark_abandoned(store, lock_free=True) == [rid]


def test_runs_lifecycle_and_abandoned(store):
    rid = create_run(store, trigger="manual", reason="because", actor="cli:me")
    assert get_run(store, rid)["status"] == "running"
    assert mark_abandoned(store, lock_free=False) == []  # our own process is alive
    with store.begin() as conn:
        conn.execute(update(pipeline_runs).where(pipeline_runs.c.id == rid).values(pid=2**22 + 12345))
    assert mark_abandoned(store, lock_free=False) == [rid]
    run = get_run(store, rid)
    assert run["status"] == "abandoned" and "stopped before it finished" in run["error"]
    other = create_run(store, trigger="schedule", reason=None, actor="system")
    finish_run(store, other, "rejected", dataset_version="abc")
    assert [r["id"] for r in list_runs(store, status="rejected")] == [other]
    with pytest.raises(NotFoundError):
        get_run(store, "nope")


def test_audit_is_append_only_and_filterable(store):
    record_action(
        store,
        actor="cli:ann",
        action="rollback",
        target="version:2",
        reason="bad",
        before={"c": "3"},
        after={"c": "2"},
    )
    record_action(store, actor="system", action="promote", target="version:3", reason="better")
    assert [a["action"] for a in list_actions(store)] == ["promote", "rollback"]
    only = list_actions(store, actor="cli:ann")
    assert len(only) == 1 and only[0]["before"] == {"c": "3"} and only[0]["after"] == {"c": "2"}


def test_the_last_champion_set_is_found_behind_a_busy_trail(store):
    # gc deletions, swap failures and alert acknowledgements pushed the last move out of the newest
    # 200 rows: status said "none yet" about a project whose champion alias had gone.
    record_action(
        store,
        actor="cli:ann",
        action="promote",
        target="version:3",
        before={"champion": "2"},
        after={"champion": "3", "previous": "2"},
    )
    busy = ("gc_delete_file", "swap_failed", "alert_acknowledged")
    for i in range(250):
        record_action(store, actor="system", action=busy[i % 3], target=f"file:{i}", after={"n": i})
    assert last_champion_set(store) == "3"


def test_schema_head_is_alembics_head():
    # open_store skips alembic when the database records SCHEMA_HEAD: a new migration must move it.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from evergreen.store.engine import MIGRATIONS, SCHEMA_HEAD

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == [SCHEMA_HEAD]


def test_a_database_behind_head_is_upgraded_on_open(store, database_url):
    from alembic import command
    from alembic.config import Config

    from evergreen.store.engine import MIGRATIONS, SCHEMA_HEAD, schema_revision

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert "alert_deliveries" not in inspect(store.engine).get_table_names()
    again = open_store(database_url, "testproj")
    assert schema_revision(again.engine) == SCHEMA_HEAD
    assert "alert_deliveries" in inspect(again.engine).get_table_names()
    again.engine.dispose()


def test_feedback_table_matches_its_migration(store: Any) -> None:
    """0008: ``labelled_by`` and the one-label-per-prediction index, as ``tables.py`` declares them."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from evergreen.store.tables import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "feedback" in repr(d)] == []


def test_one_live_alert_per_cause_is_a_partial_index(store: Any) -> None:
    """0010's index is unique over live alerts only: tables.py declares it without its WHERE."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from evergreen.store.tables import alerts

    def alert(status: str) -> dict[str, Any]:
        now = utcnow()
        return {"project": "testproj", "fingerprint": "drift:x", "kind": "drift", "level": "warning",
                "status": status, "title": "t", "opened_at": now, "updated_at": now}  # fmt: skip

    with store.engine.begin() as conn:
        conn.execute(insert(alerts), [alert("resolved"), alert("resolved"), alert("open")])
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(alerts), [alert("acknowledged")])


def test_the_tables_do_not_load_the_postgresql_dialect() -> None:
    """Every CLI command imports the tables; on SQLite the PostgreSQL dialect is ~50 ms of nothing."""
    code = "import sys, evergreen.store.tables; print('sqlalchemy.dialects.postgresql' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "ArgumentError: Could not parse SQLAlchemy URL"),
        ("postgresql+nodriver://u:pw@h/db", "NoSuchModuleError: Can't load plugin"),
        ("mysql://u:pw@h/db", "its driver is not installed (ModuleNotFoundError: No module named 'MySQLdb')"),
        # was a ValueError, exit 1
        ("postgresql+psycopg://u:pw@h:54x2/db", "ValueError: invalid literal for int() with base 10: '54x2'"),
    ],
)
def test_a_database_url_sqlalchemy_cannot_use_is_a_config_error_naming_the_key(
    url: str, problem: str
) -> None:
    from evergreen.errors import ConfigError

    # were SQLAlchemy's ArgumentError and ModuleNotFoundError: "error: ...", exit 1, no key named
    with pytest.raises(ConfigError) as err:
        open_store(url, "p")
    assert err.value.message.startswith(f"config key storage.database_url: {problem}")
    assert err.value.exit_code == 2 and "pw" not in err.value.message


def test_landing_objects_source_digest_is_backfilled_and_indexed(store: Any, database_url: str) -> None:
    """0012: rows recorded before it get their ``source_digest``; the unique index is on it (not on
    the URL, which may be longer than a PostgreSQL index entry), as ``tables.py`` declares it."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import select, text
    from sqlalchemy.exc import IntegrityError

    from evergreen.store.engine import MIGRATIONS
    from evergreen.store.tables import landing_objects, landing_source_digest

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    claimed = "s3://landing/in/claimed.csv"  # a pass's claim: before 0012 it would take the object for ever
    with store.engine.begin() as conn:
        conn.execute(
            landing_objects.insert().values(
                project="testproj",
                source=claimed,
                source_digest=landing_source_digest(claimed),
                version="v1",
                status="claimed",
                recorded_at=utcnow(),
            )
        )
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM landing_objects")).scalar() == 0
    sources = ["s3://landing/in/a.csv", "file:///tmp/in/é b.csv"]
    with store.engine.begin() as conn:
        for source in sources:
            conn.execute(
                text(
                    "INSERT INTO landing_objects (project, source, version, status, recorded_at) "
                    "VALUES ('testproj', :source, 'v1', 'accepted', :at)"
                ),
                {"source": source, "at": utcnow()},
            )
    again = open_store(database_url, "testproj")
    with again.engine.connect() as conn:
        got = conn.execute(
            select(landing_objects.c.source, landing_objects.c.source_digest).order_by(landing_objects.c.id)
        ).all()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [tuple(r) for r in got] == [(s, landing_source_digest(s)) for s in sources]
    assert landing_source_digest(sources[0]) == (
        "a1500790e5dbdac89cfe6ddf97f5cd39b32b512083b9a40c44c0f38e07e877c4"
    )
    assert [d for d in diff if "landing_objects" in repr(d)] == []
    row = {"project": "testproj", "source": "s3://x/" + "k" * 3000, "version": "v1", "status": "accepted"}
    row |= {"source_digest": landing_source_digest(row["source"]), "recorded_at": utcnow()}
    with again.engine.begin() as conn:
        conn.execute(landing_objects.insert().values(**row))
    with pytest.raises(IntegrityError), again.engine.begin() as conn:
        conn.execute(landing_objects.insert().values(**row))
    again.engine.dispose()


@pytest.mark.parametrize(
    ("query", "environ", "expected"),
    [("", {}, "10"), ("?connect_timeout=4", {}, "4"), ("", {"PGCONNECT_TIMEOUT": "3"}, "3")],
)
def test_a_postgresql_connection_waits_for_the_server_as_long_as_its_operator_set(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, query: str, environ: dict[str, str], expected: str
) -> None:
    # libpq waits for ever without a connect_timeout, so evergreen sets one (10 s) unless the
    # operator did: in the URL, or in libpq's own environment variable, which the default overrode.
    from evergreen.store.engine import make_engine

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    engine = make_engine(postgres_url + query)
    try:
        with engine.connect() as conn:
            parameters = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert parameters["connect_timeout"] == expected
    finally:
        engine.dispose()
