"""dashboard: indexes for the page queries (newest first, filtered, one page at a time)

- ``pipeline_runs (project, started_at)`` and ``(project, status, started_at)``: Runs, Approvals,
  the newest run and ``evergreen status``;
- ``decisions (project, candidate_version)``: a champion's own decision (its holdout metric);
- ``alert_actions (project, target)``: History by version / alert / run, when a version became champion;
- ``drift_reports (project, report_date, id)``: Monitoring pages past the first without reading the
  skipped rows' JSON.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_pipeline_runs_project_started", "pipeline_runs", ["project", "started_at"]),
    ("ix_pipeline_runs_project_status_started", "pipeline_runs", ["project", "status", "started_at"]),
    ("ix_decisions_project_candidate", "decisions", ["project", "candidate_version"]),
    ("ix_alert_actions_project_target", "alert_actions", ["project", "target"]),
    ("ix_drift_reports_project_date", "drift_reports", ["project", "report_date", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
