"""serving: who gave each label, and one label per prediction

``feedback.labelled_by`` is the token name that sent the label (NULL when ``/feedback`` is open).
A unique index on (project, prediction_id) makes "one label per prediction"
(``serving.feedback_relabel``) hold across processes; rows of labelled records have no prediction id,
and NULLs never collide. Duplicates from before this revision are reduced to the newest label.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM feedback WHERE prediction_id IS NOT NULL AND id NOT IN "
        "(SELECT MAX(id) FROM feedback WHERE prediction_id IS NOT NULL GROUP BY project, prediction_id)"
    )
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("labelled_by", sa.String(length=100), nullable=True))
        batch.create_index("ux_feedback_project_prediction", ["project", "prediction_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ux_feedback_project_prediction")
        batch.drop_column("labelled_by")
