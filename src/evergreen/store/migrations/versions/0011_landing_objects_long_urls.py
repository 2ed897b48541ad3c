"""object-store landing: a recorded object's URL may be longer than 1024 characters

An S3 key may be 1024 bytes; with ``s3://<bucket>/`` in front (and ``.processed/<stamp>-`` for where
it was moved) the URL is longer, and PostgreSQL refused the record after the batch was stored. Both
columns become ``Text``, like ``batches.source``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("landing_objects", schema=None) as batch_op:
        batch_op.alter_column(
            "source", type_=sa.Text(), existing_type=sa.String(1024), existing_nullable=False
        )
        batch_op.alter_column(
            "moved_to", type_=sa.Text(), existing_type=sa.String(1024), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("landing_objects", schema=None) as batch_op:
        batch_op.alter_column(
            "moved_to", type_=sa.String(1024), existing_type=sa.Text(), existing_nullable=True
        )
        batch_op.alter_column(
            "source", type_=sa.String(1024), existing_type=sa.Text(), existing_nullable=False
        )
