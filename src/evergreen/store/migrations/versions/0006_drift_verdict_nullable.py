"""monitoring evidence: ``drift_reports.drift_detected`` may be NULL (no verdict on too few rows)

A window with fewer than ``monitoring.min_rows`` rows gets no drift verdict; its row is still
written (with the row count) so people see why, and ``drift_detected`` is NULL, not False.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table to change a column's nullability; PostgreSQL alters it.
    with op.batch_alter_table("drift_reports") as batch:
        batch.alter_column("drift_detected", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE drift_reports SET drift_detected = false WHERE drift_detected IS NULL")
    with op.batch_alter_table("drift_reports") as batch:
        batch.alter_column("drift_detected", existing_type=sa.Boolean(), nullable=False)
