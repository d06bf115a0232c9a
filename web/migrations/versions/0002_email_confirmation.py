"""Email confirmation: an account made through the register form is usable once its email is confirmed."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    """Add users.email_confirmed_at; every account that exists already counts as confirmed."""
    # A plain ADD COLUMN on both databases: a batch (copy-and-rename) rebuild of `users` on SQLite would drop
    # the old table, and with foreign keys on that cascades into every learner's attempts.
    op.add_column("users", sa.Column("email_confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE users SET email_confirmed_at = created_at")


def downgrade() -> None:
    """Drop the column (accounts still waiting for confirmation become usable, as before)."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; Alembic would rebuild the table (and cascade, as above).
        op.execute("ALTER TABLE users DROP COLUMN email_confirmed_at")
    else:
        op.drop_column("users", "email_confirmed_at")
