"""Indexes that let a submission find its attempt number and its predecessors without reading the pair's history."""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    """Replace the (learner, exercise) index by two that also order the pair's attempts."""
    # MAX(attempt_number) of a pair becomes one index probe instead of a pass over the pair's rows.
    op.create_index("ix_attempts_pair_number", "attempts", ["user_id", "exercise_id", "attempt_number"])
    # The latest few attempts of a pair, newest first, for the summary's "stuck" flag.
    op.create_index("ix_attempts_pair_time", "attempts", ["user_id", "exercise_id", "created_at"])
    # Both new indexes start with (user_id, exercise_id), so every query the old one served uses them.
    op.drop_index("ix_attempts_user_exercise", table_name="attempts")


def downgrade() -> None:
    """Restore the plain (learner, exercise) index."""
    op.create_index("ix_attempts_user_exercise", "attempts", ["user_id", "exercise_id"])
    op.drop_index("ix_attempts_pair_time", table_name="attempts")
    op.drop_index("ix_attempts_pair_number", table_name="attempts")
