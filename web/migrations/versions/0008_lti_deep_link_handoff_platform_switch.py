"""LTI: a new-window hand-off from a deep-linking launch carries the open request (browsers that block framed
cookies), and an admin can switch a platform off.
"""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import JSON, drop_column_in_place

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
    drop_column_in_place("lti_platforms", "enabled")
    drop_column_in_place("lti_states", "deep_link")
