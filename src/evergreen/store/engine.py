"""Engine creation and schema migration for the metadata database."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from evergreen.errors import ConfigError, SchemaError, StoreError, one_line
from evergreen.logs import get_logger
from evergreen.redact import Redactor

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a test pins it to alembic's head). A database already
# there is opened without loading alembic, which would cost every CLI command a few hundred ms.
SCHEMA_HEAD = "0012"
_migrate_lock = threading.Lock()
log = get_logger(__name__)
# How long a new PostgreSQL connection may wait for the server (libpq's connect_timeout, seconds).
# libpq's own default is to wait for ever: a server that accepts the TCP connection and never answers
# (a stalled failover, a proxy with no backend) hung every CLI command, request and scheduler pass.
# A URL that sets ``connect_timeout`` itself keeps its own value, and so does libpq's own variable
# (PGCONNECT_TIMEOUT): a keyword passed to the connection would override it.
CONNECT_TIMEOUT_SECONDS = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(ts: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the serving log writer and a retrain write side by side; busy_timeout avoids
    # "database is locked" under short contention instead of failing the caller.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class EncodedJSON(str):
    """A JSON column value already encoded (strictly) by the caller: stored as-is, not encoded again.

    The prediction log encodes each row once to check it (NaN/Infinity refused) and hands the text
    over, so its hot path does not pay for two encodings. Every other value is encoded as before.
    """


def dump_json(value: Any) -> str:
    return str(value) if isinstance(value, EncodedJSON) else json.dumps(value)


def make_engine(url: str) -> Engine:
    """The engine of ``storage.database_url``; ConfigError naming the key when SQLAlchemy cannot
    read it or its driver is not installed (were ArgumentError / ModuleNotFoundError, exit 1)."""
    try:
        return _engine(url)
    except (ArgumentError, ValueError) as exc:
        # NoSuchModuleError too: an unknown dialect or driver name; ValueError: a port not a number
        # Redacted: SQLAlchemy's text may quote the URL, and the URL may hold a password.
        raise ConfigError(Redactor()(f"config key storage.database_url: {one_line(exc)}")) from None
    except ImportError as exc:
        raise ConfigError(
            f"config key storage.database_url: its driver is not installed ({one_line(exc)}); "
            "evergreen supports sqlite:/// and postgresql+psycopg://"
        ) from None


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"timeout": 30}, json_serializer=dump_json
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    operator_set = "connect_timeout" in parsed.query or os.environ.get("PGCONNECT_TIMEOUT")
    if parsed.get_backend_name() == "postgresql" and not operator_set:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args=connect_args,
        json_serializer=dump_json,
    )


def schema_revision(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version``, or None for a database not migrated yet."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no such table (a new database), or unreachable: migrate() says which
        return None


# The PostgreSQL advisory lock that makes one process at a time migrate a database (replicas and
# the scheduler start together): any fixed 64-bit number; advisory locks are per database.
SCHEMA_LOCK_KEY = 0x65766772_6E736368  # "evgr" "nsch"
# SQLite: a writer waits busy_timeout (30 s) for the write lock, then fails; a long upgrade (0008
# deduplicates feedback, 0006 rebuilds drift_reports) may hold it longer, so waiting is retried.
_SQLITE_LOCK_ATTEMPTS = 20


def migrate(engine: Engine, redact: Redactor | None = None) -> str | None:
    """Bring the schema to the newest revision (idempotent); the revision it was at before.

    One process at a time, in one transaction: replicas and the scheduler that start together on a
    database not migrated yet wait for the first one's upgrade and then find the schema at head
    (each used to run the same DDL: "table alert_actions already exists"). A failed upgrade leaves
    the schema where it was (PostgreSQL and SQLite both have transactional DDL; pysqlite only
    opens a transaction before DML, so the write lock is taken by hand). A database at a revision
    this code does not know (written by a newer evergreen) is refused untouched.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _migrate_lock, engine.begin() as conn:
        _lock_schema(conn)
        found = _recorded_revision(conn)
        if found == SCHEMA_HEAD:
            return found  # another process upgraded it while this one waited for the lock
        if found is not None and found not in {
            s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()
        }:
            raise SchemaError(_too_new(found))
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            why = one_line(getattr(exc, "orig", None) or exc)  # the driver's words, not SQL and parameters
            raise SchemaError(
                (redact or Redactor())(
                    f"storage.database_url: upgrading the metadata database from schema revision "
                    f"{found or '(empty)'} to {SCHEMA_HEAD} failed and was rolled back: {why}"
                )
            ) from exc
    return found


def _lock_schema(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        for attempt in range(_SQLITE_LOCK_ATTEMPTS):
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or attempt == _SQLITE_LOCK_ATTEMPTS - 1:
                    raise
                log.info("schema_upgrade_waiting", reason="another process holds the database's write lock")


def _recorded_revision(conn: Connection) -> str | None:
    # Asked of the catalogue first: on PostgreSQL a failed SELECT would abort the transaction.
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _too_new(found: str) -> str:
    from evergreen import __version__

    return (
        f"storage.database_url: the metadata database is at schema revision {found}, newer than this "
        f"evergreen-ml {__version__} knows (its newest is {SCHEMA_HEAD}); nothing was changed: run the "
        "evergreen release that upgraded it, or restore the database from the backup taken before "
        "that upgrade"
    )


@dataclass(frozen=True)
class Store:
    """A migrated metadata database for one project.

    ``redact`` is the project's redactor: every message the store writes (run errors and reasons,
    decisions, audit reasons and before/after, alert titles, details and delivery errors) passes it.
    Only messages: a data column (a path, a record) is never rewritten.
    """

    engine: Engine
    project: str
    redact: Redactor = field(default_factory=Redactor)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc, self.redact) from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc, self.redact) from exc


def _unavailable(exc: OperationalError, redact: Redactor) -> StoreError:
    # The driver's text may echo part of the URL: a password with a raw '@' is read by SQLAlchemy
    # as ending there, and psycopg names the rest as the host it cannot resolve.
    return StoreError(redact(f"metadata database unavailable: {exc.orig}"))


def open_store(url: str, project: str, *, upgrade: bool = True, redact: Redactor | None = None) -> Store:
    """The project's metadata store; ``redact`` (the project's redactor) cleans every message it writes."""
    redact = redact or Redactor()
    engine = make_engine(url)
    if upgrade:
        try:
            if schema_revision(engine) != SCHEMA_HEAD:
                _log_migration(migrate(engine, redact))
        except OperationalError as exc:
            raise _unavailable(exc, redact) from exc
    return Store(engine=engine, project=project, redact=redact)


def _log_migration(before: str | None) -> None:
    # One line when this process upgraded an existing database: a warning, which the CLI shows. A
    # new database's creation says nothing: a library caller's stdout (structlog's default when
    # logging is not configured) would get a line from every first open_project.
    if before is not None and before != SCHEMA_HEAD:
        log.warning("schema_upgraded", from_revision=before, to_revision=SCHEMA_HEAD)
