"""object-store landing: ``landing_objects`` records each (key, version) taken from a bucket prefix

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "landing_objects",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("batch_id", sa.Integer()),
        sa.Column("moved_to", sa.String(1024)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project", "source", "version", name="uq_landing_objects_key_version"),
    )


def downgrade() -> None:
    op.drop_table("landing_objects")
