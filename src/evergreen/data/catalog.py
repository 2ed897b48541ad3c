"""Metadata-database queries for batches and contracts (the only SQL in ``evergreen.data``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from evergreen.data.contract import Contract
from evergreen.logs import get_logger
from evergreen.store.engine import as_utc, utcnow
from evergreen.store.tables import batches, contracts, landing_objects, landing_source_digest

log = get_logger("evergreen.landing")


@dataclass(frozen=True)
class BatchRow:
    id: int
    source: str
    content_hash: str
    rows: int
    labelled_rows: int
    path: str | None
    min_timestamp: datetime | None
    max_timestamp: datetime | None
    received_at: datetime


def load_contract(conn: Connection, project: str) -> tuple[int, Contract] | None:
    """The newest stored contract of the project and its row id."""
    row = conn.execute(
        select(contracts.c.id, contracts.c.contract)
        .where(contracts.c.project == project)
        .order_by(contracts.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, Contract.from_dict(row.contract))


def save_contract(
    conn: Connection, project: str, contract: Contract, batch_id: int | None, at: datetime
) -> int:
    result = conn.execute(
        insert(contracts).values(
            project=project, contract=contract.to_dict(), source_batch_id=batch_id, created_at=at
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # INSERT always has one
    return int(key[0])


def accepted_with_hash(conn: Connection, project: str, content_hash: str) -> int | None:
    row = conn.execute(
        select(batches.c.id)
        .where(
            batches.c.project == project,
            batches.c.content_hash == content_hash,
            batches.c.status == "accepted",
        )
        .order_by(batches.c.id)
        .limit(1)
    ).first()
    return None if row is None else int(row.id)


def insert_batch(conn: Connection, project: str, **values: Any) -> int:
    result = conn.execute(insert(batches).values(project=project, **values))
    key = result.inserted_primary_key
    assert key is not None  # INSERT always has one
    return int(key[0])


def set_batch_path(conn: Connection, batch_id: int, path: str) -> None:
    conn.execute(update(batches).where(batches.c.id == batch_id).values(path=path))


def labelled_batches(conn: Connection, project: str) -> list[BatchRow]:
    """Accepted batches with at least one labelled row, oldest first."""
    rows = conn.execute(
        select(batches)
        .where(batches.c.project == project, batches.c.status == "accepted", batches.c.labelled_rows > 0)
        .order_by(batches.c.id)
    ).all()
    return [
        BatchRow(
            id=r.id,
            source=r.source,
            content_hash=r.content_hash,
            rows=r.rows,
            labelled_rows=r.labelled_rows,
            path=r.path,
            min_timestamp=as_utc(r.min_timestamp),
            max_timestamp=as_utc(r.max_timestamp),
            received_at=as_utc(r.received_at) or r.received_at,
        )
        for r in rows
    ]


# A landing object is claimed (a row with status "claimed") before it is read, so two processes on
# one landing (a scheduler and an `evergreen ingest`, a retried orchestrator task) never both take it.
# A claim older than this was left by a pass that died before its record (killed, its host lost):
# another pass takes it over. An hour is far beyond one object's download and ingest (512 MB by
# default); a pass still at it after that may see the object taken again, and then the content hash
# records that second ingest as a duplicate (nothing is stored twice).
CLAIMED = "claimed"
CLAIM_STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class LandingClaim:
    """This process's claim on one version of a landing object; ``at`` tells it from a later one."""

    source: str
    version: str
    at: datetime


def _key(project: str, source: str, version: str) -> tuple[Any, ...]:
    return (
        landing_objects.c.project == project,
        landing_objects.c.source_digest == landing_source_digest(source),
        landing_objects.c.version == version,
    )


def _live(now: datetime) -> Any:
    """Rows that make an object taken: a record, or a claim that is not stale."""
    return or_(landing_objects.c.status != CLAIMED, landing_objects.c.recorded_at >= now - CLAIM_STALE_AFTER)


def landing_taken_among(
    conn: Connection, project: str, sources: Iterable[str], now: datetime | None = None
) -> set[tuple[str, str]]:
    """The (source, version) pairs already taken, or being taken, among ``sources``: one query per
    500 of them, so a pass over a kept prefix of many objects is not a query per object. Looked up by
    digest (the index holds it, not the URL). A stale claim is not counted: it is to be taken over."""
    live = _live(utcnow() if now is None else now)
    digests = list(dict.fromkeys(landing_source_digest(s) for s in sources))
    taken: set[tuple[str, str]] = set()
    for start in range(0, len(digests), 500):
        rows = conn.execute(
            select(landing_objects.c.source, landing_objects.c.version).where(
                landing_objects.c.project == project,
                landing_objects.c.source_digest.in_(digests[start : start + 500]),
                live,
            )
        ).all()
        taken.update((str(src), str(ver)) for src, ver in rows)
    return taken


def _insert_if_absent(conn: Connection, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING into ``landing_objects``, and whether the row went in: a
    conflict is an answer (the object is another's), not an error that would abort the caller's
    transaction on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        # psycopg reports no row count for this INSERT; RETURNING says whether it added the row.
        stmt = pg_insert(landing_objects).values(**values).on_conflict_do_nothing()
        return conn.execute(stmt.returning(landing_objects.c.id)).first() is not None
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    # sqlite3's rowcount is SQLite's own count of changes (RETURNING would need SQLite 3.35).
    return (
        conn.execute(sqlite_insert(landing_objects).values(**values).on_conflict_do_nothing()).rowcount == 1
    )


def claim_landing(
    conn: Connection, project: str, source: str, version: str, at: datetime
) -> LandingClaim | None:
    """Claim this version of an object before reading it: None when it was taken before or another
    process is at it now. Atomic on SQLite and PostgreSQL alike: the unique index decides which of
    two inserts wins, and of two takers of a stale claim only the first update still finds it stale
    (PostgreSQL re-reads the row a blocked UPDATE waited for; SQLite runs one writer at a time)."""
    digest = landing_source_digest(source)
    row = {"source": source, "source_digest": digest, "version": version, "status": CLAIMED}
    if _insert_if_absent(conn, row | {"project": project, "recorded_at": at}):
        return LandingClaim(source, version, at)
    stale = conn.execute(
        update(landing_objects)
        .where(
            *_key(project, source, version),
            landing_objects.c.status == CLAIMED,
            landing_objects.c.recorded_at < at - CLAIM_STALE_AFTER,
        )
        .values(recorded_at=at)
    )
    return LandingClaim(source, version, at) if stale.rowcount == 1 else None


def _ours(project: str, claim: LandingClaim) -> tuple[Any, ...]:
    return (
        *_key(project, claim.source, claim.version),
        landing_objects.c.status == CLAIMED,
        landing_objects.c.recorded_at == claim.at,
    )


def release_landing(conn: Connection, project: str, claim: LandingClaim) -> None:
    """Give a claim up (the object could not be read): the next pass tries it again. A claim taken
    over since (ours went stale) is the other process's and stays."""
    conn.execute(delete(landing_objects).where(*_ours(project, claim)))


def record_landing(conn: Connection, project: str, claim: LandingClaim, **values: Any) -> None:
    """Record a claimed object as taken (status, batch, where it was moved). When the claim is no
    longer ours (it went stale and another process took it over) that process records it instead."""
    done = conn.execute(update(landing_objects).where(*_ours(project, claim)).values(**values))
    if done.rowcount == 0:  # traced: the other process may ingest it again (a duplicate batch)
        log.warning("landing_claim_lost", file=claim.source, version=claim.version)
