"""LTI: a new-window hand-off from a deep-linking launch carries the open request (browsers that block framed
cookies), and an admin can switch a platform off.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add lti_states.deep_link (JSON, empty for logins and ordinary hand-offs) and lti_platforms.enabled (on)."""
    with op.batch_alter_table("lti_states") as batch:
        batch.add_column(sa.Column("deep_link", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))
    with op.batch_alter_table("lti_platforms") as batch:
        batch.add_column(sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    """Drop lti_platforms.enabled and lti_states.deep_link."""
    with op.batch_alter_table("lti_platforms") as batch:
        batch.drop_column("enabled")
    with op.batch_alter_table("lti_states") as batch:
        batch.drop_column("deep_link")
