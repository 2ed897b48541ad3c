"""serving: shadow predictions point at the champion prediction they were scored beside

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shadow_of", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_predictions_shadow_of"), ["shadow_of"], unique=False)
        batch_op.create_index("ix_predictions_project_version", ["project", "model_version"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_predictions_project_version")
        batch_op.drop_index(batch_op.f("ix_predictions_shadow_of"))
        batch_op.drop_column("shadow_of")
