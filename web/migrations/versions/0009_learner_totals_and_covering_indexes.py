"""Learner totals, each summary's negated total, and covering indexes for the roster and item analysis."""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import ref

# The fill goes through the site's own function, so the totals made here are those a submission makes.
from web.services.summaries import refresh_totals

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    """Create learner_totals, add exercise_summaries.minus_total and the indexes, and fill the totals."""
    op.create_table(
        "learner_totals",
        ref("user_id", "users.id", primary_key=True),
        sa.Column("total", sa.Double(), nullable=False),
    )
    # Plain ADD COLUMN on every database (a batch rebuild on SQLite would copy every summary twice).
    op.add_column("exercise_summaries",
                  sa.Column("minus_total", sa.Double(), nullable=False, server_default=sa.text("0")))
    op.create_index("ix_exercise_summaries_roster", "exercise_summaries",
                    ["user_id", "exercise_id", "passed", "last_at", "stuck"])
    op.create_index("ix_exercise_summaries_items", "exercise_summaries",
                    ["exercise_id", "last_checks", "last_failed", "user_id", "attempts", "passed", "first_score"])
    op.create_index("ix_exercise_summaries_rank", "exercise_summaries",
                    ["exercise_id", "minus_total", "user_id", "first_score"])
    op.create_index("ix_lesson_progress_reads", "lesson_progress", ["user_id", "lesson_id", "last_read_at"])
    refresh_totals(op.get_bind())


def downgrade() -> None:
    """Drop the indexes, the negated totals and learner_totals (the summaries they were computed from stay)."""
    op.drop_index("ix_lesson_progress_reads", table_name="lesson_progress")
    op.drop_index("ix_exercise_summaries_rank", table_name="exercise_summaries")
    op.drop_index("ix_exercise_summaries_items", table_name="exercise_summaries")
    op.drop_index("ix_exercise_summaries_roster", table_name="exercise_summaries")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; Alembic would rebuild the table.
        op.execute("ALTER TABLE exercise_summaries DROP COLUMN minus_total")
    else:
        op.drop_column("exercise_summaries", "minus_total")
    op.drop_table("learner_totals")
