"""Exercise summaries: one row per learner and exercise, so instructor pages stop reading every attempt."""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import ref

# The fill goes through the site's own summary function (the table below is written out as usual), so the
# summaries made here are exactly those a submission would make.
from web.services.summaries import refresh_all

revision = "0007"
down_revision = "0005"


def upgrade() -> None:
    """Create exercise_summaries and fill it from the stored attempts."""
    op.create_table(
        "exercise_summaries",
        ref("user_id", "users.id", primary_key=True),
        sa.Column("exercise_id", sa.String(100), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("best_score", sa.Double(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("first_score", sa.Double(), nullable=False),
        sa.Column("last_attempt_id", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checks", sa.Text(), nullable=False),
        sa.Column("last_failed", sa.Text(), nullable=False),
        sa.Column("stuck", sa.Text(), nullable=True),
    )
    op.create_index("ix_exercise_summaries_exercise", "exercise_summaries", ["exercise_id", "last_at"])
    # Without the learners' totals: their table comes with revision 0009, which fills it.
    refresh_all(op.get_bind(), totals=False)


def downgrade() -> None:
    """Drop the summaries (the attempts they were computed from are untouched)."""
    op.drop_index("ix_exercise_summaries_exercise", table_name="exercise_summaries")
    op.drop_table("exercise_summaries")
