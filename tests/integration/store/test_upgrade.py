"""Upgrading a deployment that has months of rows: every earlier schema revision, holding rows in every
table it had, is brought to head by ``open_store`` (as every entry point opens it) with every row kept
and readable by the current code; head goes down to each revision and back with its rows kept.

The rows are the current code's own (a trained project with monitoring history, alerts, deliveries,
feedback, audited actions, a threshold override, a queued retrain), copied column by column into a
database migrated only as far as the revision under test, as the code of that time would have left
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, Table, create_engine, func, inspect, select, text

from evergreen.store.engine import MIGRATIONS, SCHEMA_HEAD, as_utc, schema_revision
from evergreen.store.tables import landing_source_digest, metadata

EARLIER = [f"{n:04d}" for n in range(1, int(SCHEMA_HEAD))]
# Columns added after a table was created: (revision that added it, value an upgrade gives old rows).
ADDED = {
    ("predictions", "shadow_of"): ("0002", None),
    ("drift_reports", "window_start"): ("0003", None),
    ("drift_reports", "window_end"): ("0003", None),
    ("drift_reports", "current_rows"): ("0003", None),
    ("alerts", "acknowledged_at"): ("0005", None),
    ("alerts", "acknowledged_by"): ("0005", None),
    ("alerts", "resolved_by"): ("0005", None),
    ("alerts", "occurrence"): ("0005", None),
    ("alerts", "sent_level"): ("0005", None),
    ("alerts", "seen_count"): ("0005", 1),
    ("feedback", "labelled_by"): ("0008", None),
    ("landing_objects", "source_digest"): ("0012", "digest"),
}
CREATED = {"retrain_requests": "0004", "alert_deliveries": "0005", "landing_objects": "0007"}


def _alembic(conn: Any, verb: str, target: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    getattr(command, verb)(cfg, target)


def _migrate_to(engine: Engine, verb: str, target: str) -> None:
    with engine.begin() as conn:
        _alembic(conn, verb, target)


def _norm(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def _dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, by primary key order, datetimes as aware UTC."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if not inspect(conn).has_table(table.name):
                continue
            live = Table(table.name, MetaData(), autoload_with=conn)
            rows = conn.execute(select(live).order_by(*live.primary_key.columns)).mappings().all()
            out[table.name] = [{k: _norm(v) for k, v in r.items()} for r in rows]
    return out


def _load(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert ``rows`` into the tables the database has, only the columns each has."""
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not rows.get(table.name) or not inspect(conn).has_table(table.name):
                continue
            live = Table(table.name, MetaData(), autoload_with=conn)
            names = set(live.columns.keys())
            conn.execute(
                live.insert(), [{k: v for k, v in r.items() if k in names} for r in rows[table.name]]
            )
            if conn.dialect.name == "postgresql" and "id" in names and live.c.id.autoincrement:
                # Rows were inserted with their ids: move the sequence past them, as their own inserts did.
                seq = conn.execute(text(f"SELECT pg_get_serial_sequence('{table.name}', 'id')")).scalar()
                if seq:
                    conn.execute(text(f"SELECT setval('{seq}', (SELECT MAX(id) FROM {table.name}))"))


def _at(rows: dict[str, list[dict[str, Any]]], revision: str) -> dict[str, list[dict[str, Any]]]:
    """``rows`` as a database at ``revision`` holds them: its tables, its columns."""
    out = {}
    for name, table_rows in rows.items():
        if CREATED.get(name, "0001") > revision:
            continue
        drop = {col for (t, col), (added, _) in ADDED.items() if t == name and added > revision}
        kept = [{k: v for k, v in r.items() if k not in drop} for r in table_rows]
        if name == "drift_reports" and revision < "0006":
            kept = [{**r, "drift_detected": bool(r["drift_detected"])} for r in kept]  # 0006's downgrade
        if name == "landing_objects" and revision < "0012":
            kept = [r for r in kept if r["status"] != "claimed"]  # 0012's downgrade: claims go
        out[name] = kept
    return out


def _upgraded(rows: dict[str, list[dict[str, Any]]], revision: str) -> dict[str, list[dict[str, Any]]]:
    """What rows written at ``revision`` hold once at head: the new columns as the upgrade fills them."""
    out = {}
    for name, table_rows in _at(rows, revision).items():
        filled = []
        for r in table_rows:
            r = dict(r)
            for (t, col), (added, value) in ADDED.items():
                if t == name and added > revision:
                    r[col] = landing_source_digest(r["source"]) if value == "digest" else value
            filled.append(r)
        out[name] = filled
    for name, created in CREATED.items():
        if created > revision:
            out[name] = []
    return out


def _assert_same(found: dict[str, list[dict[str, Any]]], expected: dict[str, list[dict[str, Any]]]) -> None:
    assert sorted(found) == sorted(expected)
    for name, rows in expected.items():
        assert len(found[name]) == len(rows), name
        for got, want in zip(found[name], rows, strict=True):
            assert got == want, (name, {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v})


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, list[dict[str, Any]]]]]:
    """A project with history of every kind, its MLflow store, and every metadata row it wrote."""
    from evergreen import control
    from evergreen.pipeline import RetrainRequest, RetrainRunner
    from evergreen.project import open_project
    from evergreen.store.engine import utcnow
    from evergreen.store.requests import enqueue_retrain
    from tests.support.dashboard import seed_history
    from tests.support.project import churn_settings_with_batches

    root = tmp_path_factory.mktemp("history")
    settings = churn_settings_with_batches(root)
    project = open_project(settings)
    try:
        outcome = RetrainRunner(project).run(RetrainRequest(trigger="manual", reason="fixture"))
        assert outcome.status == "promoted", outcome.reason
        seed_history(project)
        control.acknowledge_alert(project, 1, actor="cli:ops", reason="looking")
        control.set_thresholds(project, {"promotion.min_improvement": 0.03}, actor="cli:ops")
        enqueue_retrain(project.store, "after the upgrade", "cli:ops")
        rows = _dump(project.store.engine)
    finally:
        project.store.engine.dispose()
    now = utcnow()
    rows["landing_objects"] = [
        {
            "id": 1,
            "project": "churn",
            "source": "s3://b/in/a.csv",
            "source_digest": landing_source_digest("s3://b/in/a.csv"),
            "version": "v1",
            "status": "ingested",
            "batch_id": 1,
            "moved_to": "s3://b/in/.processed/a.csv",
            "recorded_at": now,
        },
        {
            "id": 2,
            "project": "churn",
            "source": "s3://b/in/b.csv",
            "source_digest": landing_source_digest("s3://b/in/b.csv"),
            "version": "v7",
            "status": "claimed",
            "batch_id": None,
            "moved_to": None,
            "recorded_at": now,
        },
    ]
    assert all(rows[t.name] for t in metadata.sorted_tables if t.name != "locks"), {
        t: len(r) for t, r in rows.items()
    }
    yield root, rows


def _project(tmp_path: Path, history_root: Path, url: str) -> Any:
    from evergreen.project import open_project
    from tests.support.project import make_project_settings

    state = history_root / ".evergreen"
    settings = make_project_settings(
        tmp_path,
        database_url=url,
        storage={
            "mlflow_tracking_uri": f"sqlite:///{state}/mlflow.db",
            "artifact_root": str(state / "mlartifacts"),
        },
    )
    return open_project(settings)


def _fresh_at(url: str, revision: str) -> Engine:
    engine = create_engine(url)
    _migrate_to(engine, "upgrade", revision)
    return engine


@pytest.mark.parametrize("revision", EARLIER)
def test_a_database_at_an_earlier_revision_upgrades_with_every_row_kept_and_readable(
    history: Any, revision: str, database_url: str, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from evergreen import control
    from evergreen.alerts.repository import list_alerts, list_deliveries
    from evergreen.store.audit import list_actions
    from evergreen.store.runs import list_runs
    from tests.support.control import VIEWER
    from tests.support.dashboard import PAGES, VIEWER_TOKEN, dashboard_app, login

    root, rows = history
    engine = _fresh_at(database_url, revision)
    _load(engine, _at(rows, revision))
    engine.dispose()

    project = _project(tmp_path, root, database_url)  # what every entry point does: open_store migrates
    try:
        assert schema_revision(project.store.engine) == SCHEMA_HEAD
        _assert_same(_dump(project.store.engine), _upgraded(rows, revision))

        # The current code reads it: status, runs, audit, alerts, and every dashboard page.
        state = control.status(project)
        assert state["champion"]["version"] == "1"
        assert len(list_runs(project.store)) == len(rows["pipeline_runs"])
        assert len(list_actions(project.store)) == len(rows["alert_actions"])
        assert len(list_alerts(project.store)) == len(rows["alerts"])
        assert len(list_deliveries(project.store)) == (
            len(rows["alert_deliveries"]) if revision >= "0005" else 0
        )
        with TestClient(dashboard_app(project)) as client:
            assert client.get("/api/audit", headers=VIEWER).status_code == 200
            login(client, VIEWER_TOKEN)
            for path in PAGES:
                r = client.get(path)
                assert r.status_code == 200, (path, r.text[-2000:])
        # ... and writes to it: an audited action on an upgraded alert.
        alert = next(a for a in list_alerts(project.store) if a["status"] == "open")
        control.resolve_alert(project, alert["id"], actor="cli:ops", reason="after the upgrade")
    finally:
        project.store.engine.dispose()


@pytest.mark.parametrize("revision", EARLIER)
def test_head_downgrades_to_an_earlier_revision_and_back_keeping_its_rows(
    history: Any, revision: str, database_url: str
) -> None:
    from evergreen.store import open_store

    _, rows = history
    engine = _fresh_at(database_url, "head")
    _load(engine, rows)

    _migrate_to(engine, "downgrade", revision)
    assert schema_revision(engine) == revision
    _assert_same(_dump(engine), _at(rows, revision))

    store = open_store(database_url, "churn")
    assert schema_revision(store.engine) == SCHEMA_HEAD
    _assert_same(_dump(store.engine), _upgraded(_at(rows, revision), revision))
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(metadata.tables["alerts"])).scalar()
    store.engine.dispose()
    engine.dispose()


# --- Several processes, a database newer than the code, a failed upgrade -------------------------

_OPEN_AT_GO = """
import sys, time
from pathlib import Path
from evergreen.errors import EvergreenError
from evergreen.store import open_store
import alembic.command  # warm: the processes should meet at the migration, not at their imports
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():
    time.sleep(0.001)
try:
    open_store(sys.argv[1], "churn").engine.dispose()
    print("ok")
except EvergreenError as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


def _open_together(url: str, tmp_path: Path, processes: int = 3) -> list[str]:
    """``processes`` processes (two replicas and the scheduler) opening the store at one moment: what
    each printed (its log lines, then "ok" or the error)."""
    import subprocess
    import sys
    import time

    from tests.support.cli import cli_env

    tmp_path.mkdir(parents=True, exist_ok=True)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(processes)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT_GO, url, str(r), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        for r in ready
    ]
    try:
        while not all(r.exists() for r in ready):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)  # not a busy loop: the processes importing need the cores
        go.touch()
        return [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


@pytest.mark.parametrize("start", [None, "0004", "0011"])
def test_processes_starting_together_on_an_older_database_migrate_it_once(
    database_url: str, tmp_path: Path, start: str | None
) -> None:
    if start:
        _fresh_at(database_url, start).dispose()
    for round_ in range(2 if start is None else 1):  # a new database: twice, from scratch
        if round_:
            engine = create_engine(database_url)
            _migrate_to(engine, "downgrade", "base")
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE alembic_version"))
            engine.dispose()
        printed = _open_together(database_url, tmp_path / f"round{round_}")
        # was "table alert_actions already exists" (SQLite) or a UniqueViolation (PostgreSQL)
        assert [out.splitlines()[-1] for out in printed] == ["ok", "ok", "ok"], printed
        # exactly one of them upgraded it (a new database is created without a word)
        assert sum("schema_upgraded" in out for out in printed) == (0 if start is None else 1), printed
        engine = create_engine(database_url)
        assert schema_revision(engine) == SCHEMA_HEAD
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
        engine.dispose()


def _tables(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        found = inspect(conn)
        return {t: sorted(c["name"] for c in found.get_columns(t)) for t in found.get_table_names()}


def _init_project(project_dir: Path) -> Path:
    """A project made by ``evergreen init``, as an operator's would be."""
    import subprocess
    import sys

    from tests.support.cli import cli_env

    init = subprocess.run(
        [sys.executable, "-m", "evergreen", "init", str(project_dir)], capture_output=True, env=cli_env()
    )
    assert init.returncode == 0, init.stderr
    return project_dir


def test_a_database_newer_than_the_code_is_refused_untouched_by_every_entry_point(
    database_url: str, tmp_path: Path
) -> None:
    from evergreen.errors import SchemaError
    from evergreen.store import open_store
    from tests.support.cli import cli_runner, set_config

    project_dir = _init_project(tmp_path / "proj")
    set_config(project_dir, "storage", database_url=database_url)
    engine = open_store(database_url, "churn").engine
    with engine.begin() as conn:  # as a newer evergreen (rolled back since) left it
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    before = _tables(engine)

    with pytest.raises(SchemaError) as caught:
        open_store(database_url, "churn")
    assert caught.value.code == "schema_mismatch"

    run = cli_runner(project_dir)
    for verb in (
        ["status"],
        ["runs"],
        ["alerts"],
        ["ingest", "landing"],
        ["serve", "--port", "1"],
        ["scheduler"],
    ):
        res = run(*verb)
        assert res.code == 1, (verb, res.stderr)
        assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, (verb, res.stderr)
        line = res.stderr.strip()
        assert line.startswith(
            "error: storage.database_url: the metadata database is at schema revision 0099"
        ), line
        assert "(its newest is 0012)" in line and "restore the database from the backup" in line, line
    assert schema_revision(engine) == "0099" and _tables(engine) == before  # nothing written
    engine.dispose()


def test_a_failed_upgrade_is_rolled_back_and_said_so(database_url: str) -> None:
    from evergreen.errors import SchemaError
    from evergreen.store import open_store

    engine = _fresh_at(database_url, "0004")
    with engine.begin() as conn:  # left by hand, say: 0005 creates this table and fails on it
        conn.execute(text("CREATE TABLE alert_deliveries (id INTEGER PRIMARY KEY)"))
    before = _tables(engine)

    with pytest.raises(SchemaError) as caught:
        open_store(database_url, "churn")
    message = str(caught.value)
    assert message.startswith(
        "storage.database_url: upgrading the metadata database from schema revision 0004 to 0012 failed "
        "and was rolled back: "
    ), message
    assert "alert_deliveries" in message
    # Nothing of 0005 stayed: on SQLite its new alert columns did (DDL outside any transaction), and
    # every later start failed on "duplicate column name: acknowledged_at".
    assert schema_revision(engine) == "0004" and _tables(engine) == before

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alert_deliveries"))
    open_store(database_url, "churn").engine.dispose()
    assert schema_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_a_cli_command_on_an_older_database_upgrades_it_and_says_so_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    import json

    from tests.support.cli import cli_runner, set_config

    project_dir = _init_project(tmp_path / "proj")
    (project_dir / ".evergreen").mkdir()
    url = (
        database_url
        if database_url.startswith("postgresql")
        else f"sqlite:///{project_dir}/.evergreen/evergreen.db"
    )
    set_config(project_dir, "storage", database_url=url)
    _fresh_at(url, "0007").dispose()

    run = cli_runner(project_dir)
    first = run("status")
    assert first.code == 0, first.stderr
    lines = first.stderr.splitlines()
    assert len(lines) == 1, first.stderr
    said = json.loads(lines[0])
    assert (said["event"], said["from_revision"], said["to_revision"], said["level"]) == (
        "schema_upgraded",
        "0007",
        SCHEMA_HEAD,
        "warning",
    )
    again = run("status")
    assert again.code == 0 and again.stderr == "", again.stderr
