"""Metadata-database queries for batches and contracts (the only SQL in ``evergreen.data``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from evergreen.data.contract import Contract
from evergreen.store.engine import as_utc
from evergreen.store.tables import batches, contracts, landing_objects, landing_source_digest


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


def landing_taken(conn: Connection, project: str, source: str, version: str) -> bool:
    """Whether this version of an object-store landing file was ingested already."""
    row = conn.execute(
        select(landing_objects.c.id).where(
            landing_objects.c.project == project,
            landing_objects.c.source_digest == landing_source_digest(source),
            landing_objects.c.version == version,
        )
    ).first()
    return row is not None


def landing_taken_among(conn: Connection, project: str, sources: Iterable[str]) -> set[tuple[str, str]]:
    """The (source, version) pairs already taken among ``sources``: one query per 500 of them, so a
    pass over a kept prefix of many objects is not a query per object. Looked up by digest (the
    index holds it, not the URL)."""
    digests = list(dict.fromkeys(landing_source_digest(s) for s in sources))
    taken: set[tuple[str, str]] = set()
    for start in range(0, len(digests), 500):
        rows = conn.execute(
            select(landing_objects.c.source, landing_objects.c.version).where(
                landing_objects.c.project == project,
                landing_objects.c.source_digest.in_(digests[start : start + 500]),
            )
        ).all()
        taken.update((str(src), str(ver)) for src, ver in rows)
    return taken


def record_landing(conn: Connection, project: str, **values: Any) -> None:
    """Record an object-store landing file as taken; a second record of it is a no-op."""
    if landing_taken(conn, project, values["source"], values["version"]):
        return
    digest = landing_source_digest(values["source"])
    conn.execute(insert(landing_objects).values(project=project, source_digest=digest, **values))
