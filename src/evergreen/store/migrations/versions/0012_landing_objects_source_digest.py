"""object-store landing: the unique index holds a digest of the URL, not the URL

PostgreSQL's btree entries hold at most 2704 bytes; the unique index over (project, source,
version) refused a ``file://`` URL longer than that (an S3 URL is at most about 1.1 KB, a local
path up to 4 KB), after the batch was stored, every pass. ``source_digest`` (the SHA-256 of the
URL, 64 hex characters) takes its place in the index; existing rows are backfilled here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def landing_source_digest(source: str) -> str:
    # A copy, frozen with this revision, of store.tables.landing_source_digest as it is now: the
    # backfill must agree with the code that wrote rows after it (test_store checks one value).
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


_rows = sa.table(
    "landing_objects",
    sa.column("id", sa.Integer()),
    sa.column("source", sa.Text()),
    sa.column("source_digest", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("landing_objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_digest", sa.String(64), nullable=True))
    conn = op.get_bind()
    found = conn.execute(sa.select(_rows.c.id, _rows.c.source)).all()
    if found:
        conn.execute(
            _rows.update().where(_rows.c.id == sa.bindparam("row_id")),
            [{"row_id": r.id, "source_digest": landing_source_digest(r.source)} for r in found],
        )
    with op.batch_alter_table("landing_objects", schema=None) as batch_op:
        batch_op.alter_column("source_digest", existing_type=sa.String(64), nullable=False)
        batch_op.drop_constraint("uq_landing_objects_key_version", type_="unique")
        batch_op.create_unique_constraint(
            "uq_landing_objects_digest_version", ["project", "source_digest", "version"]
        )


def downgrade() -> None:
    # Before 0012 any row made its object taken: a claim left by a pass (status "claimed", nothing
    # ingested) would keep its object from every pass after the downgrade.
    op.execute(sa.text("DELETE FROM landing_objects WHERE status = 'claimed'"))
    # On PostgreSQL this fails while a row holds a URL longer than an index entry: the old index cannot.
    with op.batch_alter_table("landing_objects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_landing_objects_digest_version", type_="unique")
        batch_op.create_unique_constraint("uq_landing_objects_key_version", ["project", "source", "version"])
        batch_op.drop_column("source_digest")
