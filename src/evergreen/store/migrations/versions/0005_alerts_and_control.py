"""alerts and control: alert lifecycle columns and the ``alert_deliveries`` log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def new_alert_columns() -> tuple[sa.Column, ...]:
    # A Column belongs to one table: each upgrade builds fresh ones (Column.copy() is deprecated).
    return (
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("occurrence", sa.String(length=200), nullable=True),
        sa.Column("sent_level", sa.String(length=20), nullable=True),
        sa.Column("seen_count", sa.Integer(), nullable=False, server_default="1"),
    )


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table in place beyond adding columns; harmless on PostgreSQL.
    with op.batch_alter_table("alerts") as batch:
        for col in new_alert_columns():
            batch.add_column(col)
        batch.create_index("ix_alerts_project_status", ["project", "status"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=100), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("channel_type", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_project_status")
        for col in reversed(new_alert_columns()):
            batch.drop_column(col.name)
