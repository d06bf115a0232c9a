"""Initial schema: users, cohorts, memberships, attempts and their regrade trail, progress, state, drafts."""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import JSON, ref, ts

revision = "0001"
down_revision = None


def upgrade() -> None:
    """Create every table of the site."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        ts("created_at"),
        ts("last_seen_at", nullable=True),
        sa.CheckConstraint("role IN ('learner', 'instructor', 'admin')", name="ck_users_role"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        ref("owner_id", "users.id", ondelete="SET NULL", nullable=True),
        sa.Column("join_code", sa.String(16), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        ts("created_at"),
        sa.UniqueConstraint("join_code", name="uq_cohorts_join_code"),
    )
    op.create_index("ix_cohorts_owner_id", "cohorts", ["owner_id"])
    op.create_table(
        "cohort_memberships",
        ref("cohort_id", "cohorts.id", primary_key=True),
        ref("user_id", "users.id", primary_key=True),
        ts("joined_at"),
    )
    op.create_index("ix_cohort_memberships_user_id", "cohort_memberships", ["user_id"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("user_id", "users.id", nullable=False),
        sa.Column("exercise_id", sa.String(100), nullable=False),
        sa.Column("answer", JSON, nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks", JSON, nullable=False),
        sa.Column("grader_version", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=False),
        ts("created_at"),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_attempts_user_idempotency"),
    )
    op.create_index("ix_attempts_exercise_id", "attempts", ["exercise_id"])
    op.create_index("ix_attempts_user_exercise", "attempts", ["user_id", "exercise_id"])
    op.create_table(
        "attempt_grades",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("attempt_id", "attempts.id", nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks", JSON, nullable=False),
        sa.Column("grader_version", sa.String(64), nullable=False),
        ts("created_at"),
        sa.Column("reason", sa.String(200), nullable=False),
    )
    op.create_index("ix_attempt_grades_attempt_id", "attempt_grades", ["attempt_id"])
    op.create_table(
        "lesson_progress",
        ref("user_id", "users.id", primary_key=True),
        sa.Column("lesson_id", sa.String(100), primary_key=True),
        ts("first_read_at"),
        ts("last_read_at"),
    )
    op.create_table(
        "exercise_states",
        ref("user_id", "users.id", primary_key=True),
        sa.Column("exercise_id", sa.String(100), primary_key=True),
        sa.Column("shuffle_seed", sa.Integer(), nullable=False),
    )
    op.create_table(
        "saved_drafts",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("exercise_id", sa.String(100), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        ts("created_at"),
    )
    op.create_index("ix_saved_drafts_created_at", "saved_drafts", ["created_at"])


def downgrade() -> None:
    """Drop every table, children first."""
    for table in ("saved_drafts", "exercise_states", "lesson_progress", "attempt_grades", "attempts", "cohort_memberships",
                  "cohorts", "users"):
        op.drop_table(table)
