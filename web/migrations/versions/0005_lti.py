"""LTI 1.3: registered platforms and deployments, the tool's keys, launch states, mapped users, contexts and
resource links, and the outbox of scores for the platforms' gradebooks.
"""

import sqlalchemy as sa
from alembic import op

from web.migrations.columns import JSON, ref, ts

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    """Create the LTI tables (new tables only: nothing existing is rebuilt)."""
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("auth_login_url", sa.String(500), nullable=False),
        sa.Column("auth_token_url", sa.String(500), nullable=False),
        sa.Column("jwks_url", sa.String(500), nullable=False),
        sa.Column("token_audience", sa.String(500), nullable=False),
        sa.Column("frame_origins", JSON, nullable=False),
        ts("created_at"),
        sa.UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer_client"),
    )
    op.create_table(
        "lti_deployments",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("platform_id", "lti_platforms.id", nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.UniqueConstraint("platform_id", "deployment_id", name="uq_lti_deployments_platform_dep"),
    )
    op.create_table(
        "lti_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        ts("created_at"),
        ts("retired_at", nullable=True),
        ts("expires_at", nullable=True),
    )
    op.create_table(
        "lti_states",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        ref("platform_id", "lti_platforms.id", nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        ref("user_id", "users.id", nullable=True),
        sa.Column("target", sa.String(500), nullable=False),
        ts("created_at"),
    )
    op.create_index("ix_lti_states_created_at", "lti_states", ["created_at"])
    op.create_table(
        "lti_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("platform_id", "lti_platforms.id", nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        ref("user_id", "users.id", nullable=False),
        sa.UniqueConstraint("platform_id", "sub", name="uq_lti_users_platform_sub"),
    )
    op.create_index("ix_lti_users_user_id", "lti_users", ["user_id"])
    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("platform_id", "lti_platforms.id", nullable=False),
        sa.Column("context_id", sa.String(255), nullable=False),
        ref("cohort_id", "cohorts.id", nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("memberships_url", sa.String(500), nullable=False),
        sa.UniqueConstraint("platform_id", "context_id", name="uq_lti_contexts_platform_context"),
    )
    op.create_index("ix_lti_contexts_cohort_id", "lti_contexts", ["cohort_id"])
    op.create_table(
        "lti_resource_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("context_ref", "lti_contexts.id", nullable=False),
        sa.Column("resource_link_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("exercise_id", sa.String(100), nullable=True),
        sa.Column("lineitem_url", sa.String(500), nullable=False),
        sa.UniqueConstraint("context_ref", "resource_link_id", name="uq_lti_links_context_link"),
    )
    op.create_index("ix_lti_resource_links_exercise_id", "lti_resource_links", ["exercise_id"])
    op.create_table(
        "lti_scores",
        sa.Column("id", sa.Integer(), primary_key=True),
        ref("link_id", "lti_resource_links.id", nullable=False),
        ref("user_id", "users.id", nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        ts("next_try_at"),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("sent_score", sa.Double(), nullable=True),
        ts("sent_at", nullable=True),
        ts("updated_at"),
        sa.UniqueConstraint("link_id", "user_id", name="uq_lti_scores_link_user"),
    )
    op.create_index("ix_lti_scores_user_id", "lti_scores", ["user_id"])
    op.create_index("ix_lti_scores_status", "lti_scores", ["status"])


def downgrade() -> None:
    """Drop the LTI tables, children first."""
    for table in ("lti_scores", "lti_resource_links", "lti_contexts", "lti_users", "lti_states", "lti_keys",
                  "lti_deployments", "lti_platforms"):
        op.drop_table(table)
