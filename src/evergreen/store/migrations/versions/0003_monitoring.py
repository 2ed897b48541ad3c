"""monitoring: window bounds and size on drift_reports, index for "latest report of a window"

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("window_end", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("current_rows", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_drift_reports_project_window_date", ["project", "window", "report_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_reports_project_window_date")
        batch_op.drop_column("current_rows")
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
