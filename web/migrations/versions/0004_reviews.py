"""Reviews: the grader's review flag on attempts, learners' appeals, instructors' overrides and their audit."""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import JSON, drop_column_in_place, ref, ts

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    """Add attempts.review/review_reasons and the appeals, attempt_overrides and review_decisions tables."""
    # Plain ADD COLUMN on both databases (see 0002): a batch rebuild of `attempts` would cascade into its audit rows.
    # Stored attempts say "none" until a regrade with the new grader version computes the flag.
    op.add_column("attempts", sa.Column("review", sa.String(16), nullable=False, server_default="none"))
    op.add_column("attempts", sa.Column("review_reasons", JSON, nullable=False, server_default=sa.text("'[]'")))
    op.create_index("ix_attempts_review", "attempts", ["review"])
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("attempt_id", "attempts.id", nullable=False),
        ref("user_id", "users.id", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        ts("created_at"),
        ts("decided_at", nullable=True),
        ref("decided_by", "users.id", ondelete="SET NULL", nullable=True),
        sa.CheckConstraint("state IN ('waiting', 'upheld', 'declined')", name="ck_appeals_state"),
        sa.UniqueConstraint("attempt_id", name="uq_appeals_attempt"),
    )
    op.create_index("ix_appeals_user_id", "appeals", ["user_id"])
    op.create_table(
        "attempt_overrides",
        ref("attempt_id", "attempts.id", primary_key=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        ref("decided_by", "users.id", ondelete="SET NULL", nullable=True),
        ts("decided_at"),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("attempt_id", "attempts.id", nullable=False),
        ref("actor_id", "users.id", ondelete="SET NULL", nullable=True),
        ts("created_at"),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("old_passed", sa.Boolean(), nullable=False),
        sa.Column("old_score", sa.Double(), nullable=False),
        sa.Column("new_passed", sa.Boolean(), nullable=False),
        sa.Column("new_score", sa.Double(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.CheckConstraint("action IN ('keep', 'override')", name="ck_review_decisions_action"),
    )
    op.create_index("ix_review_decisions_attempt_id", "review_decisions", ["attempt_id"])


def downgrade() -> None:
    """Drop the review tables and columns (every appeal, override and decision is lost)."""
    op.drop_index("ix_review_decisions_attempt_id", table_name="review_decisions")
    op.drop_table("review_decisions")
    op.drop_table("attempt_overrides")
    op.drop_index("ix_appeals_user_id", table_name="appeals")
    op.drop_table("appeals")
    op.drop_index("ix_attempts_review", table_name="attempts")
    drop_column_in_place("attempts", "review_reasons")
    drop_column_in_place("attempts", "review")
