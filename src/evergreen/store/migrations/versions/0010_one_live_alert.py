"""alerts: at most one live alert per (project, fingerprint), across processes

A partial unique index over the rows whose status is not ``resolved`` makes "one live alert per
cause" hold when two processes evaluate the rules at the same instant: the second insert fails and
that process updates the winner's row instead. PostgreSQL and SQLite both support partial indexes.
Duplicates from before this revision are resolved, keeping the newest live row of each cause.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LIVE_ONLY = sa.text("status <> 'resolved'")


def upgrade() -> None:
    op.execute(
        "UPDATE alerts SET status = 'resolved', resolved_by = 'migration 0010' "
        "WHERE status <> 'resolved' AND id NOT IN "
        "(SELECT MAX(id) FROM alerts WHERE status <> 'resolved' GROUP BY project, fingerprint)"
    )
    op.create_index(
        "ux_alerts_live_fingerprint",
        "alerts",
        ["project", "fingerprint"],
        unique=True,
        postgresql_where=LIVE_ONLY,
        sqlite_where=LIVE_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ux_alerts_live_fingerprint", table_name="alerts")
