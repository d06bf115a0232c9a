"""LTI: a new-window hand-off from a deep-linking launch carries the open request (browsers that block framed
cookies), and an admin can switch a platform off.
"""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import JSON

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    """Add lti_states.deep_link (JSON, empty for logins and ordinary hand-offs) and lti_platforms.enabled (on)."""
    # Plain ADD COLUMN on every database: a batch rebuild of lti_platforms on SQLite would drop and recreate it,
    # and its ON DELETE CASCADE children (deployments, users, courses, scores) would go with it.
    op.add_column("lti_states", sa.Column("deep_link", JSON, nullable=True))
    op.add_column("lti_platforms", sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    """Drop lti_platforms.enabled and lti_states.deep_link."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; Alembic would rebuild the table (and cascade, as in 0002).
        op.execute("ALTER TABLE lti_platforms DROP COLUMN enabled")
        op.execute("ALTER TABLE lti_states DROP COLUMN deep_link")
    else:
        op.drop_column("lti_platforms", "enabled")
        op.drop_column("lti_states", "deep_link")
