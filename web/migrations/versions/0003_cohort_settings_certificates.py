"""Cohorts an agency trainer can run (joining on/off, due date, announcement) and certificate verification codes."""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import ref

revision = "0003"
down_revision = "0002"

COHORT_COLUMNS = ("join_open", "due_on", "announcement", "announced_at")


def upgrade() -> None:
    """Add the cohort settings columns and the certificates table."""
    # Plain ADD COLUMNs on both databases (see 0002): a batch rebuild of `cohorts` on SQLite would drop the old
    # table, and with foreign keys on that cascades into every membership.
    op.add_column("cohorts", sa.Column("join_open", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("cohorts", sa.Column("due_on", sa.Date(), nullable=True))
    op.add_column("cohorts", sa.Column("announcement", sa.Text(), nullable=False, server_default=""))
    op.add_column("cohorts", sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("user_id", "users.id", nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("code", name="uq_certificates_code"),
    )
    op.create_index("ix_certificates_user_id", "certificates", ["user_id"])


def downgrade() -> None:
    """Drop the certificates table and the cohort settings columns."""
    op.drop_index("ix_certificates_user_id", table_name="certificates")
    op.drop_table("certificates")
    for column in reversed(COHORT_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            # SQLite 3.35+ drops a column in place; Alembic would rebuild the table (and cascade, as above).
            op.execute(f"ALTER TABLE cohorts DROP COLUMN {column}")
        else:
            op.drop_column("cohorts", column)
