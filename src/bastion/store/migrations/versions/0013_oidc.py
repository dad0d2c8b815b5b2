"""Single sign-on: provider identities, sign-ins under way, sign-ins made and logouts seen.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_identities",
        sa.Column("issuer", sa.String(length=500), primary_key=True),
        sa.Column("subject", sa.String(length=255), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_identities_user_id", "oidc_identities", ["user_id"])
    op.create_table(
        "oidc_flows",
        sa.Column("state", sa.String(length=64), primary_key=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_flows_created_at", "oidc_flows", ["created_at"])
    op.create_table(
        "oidc_logins",
        sa.Column("jti", sa.String(length=64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("sid", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_logins_user_id", "oidc_logins", ["user_id"])
    op.create_index("ix_oidc_logins_sid", "oidc_logins", ["sid"])
    op.create_table(
        "oidc_seen_logouts",
        sa.Column("issuer", sa.String(length=500), primary_key=True),
        sa.Column("jti", sa.String(length=255), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oidc_seen_logouts")
    op.drop_index("ix_oidc_logins_sid", table_name="oidc_logins")
    op.drop_index("ix_oidc_logins_user_id", table_name="oidc_logins")
    op.drop_table("oidc_logins")
    op.drop_index("ix_oidc_flows_created_at", table_name="oidc_flows")
    op.drop_table("oidc_flows")
    op.drop_index("ix_oidc_identities_user_id", table_name="oidc_identities")
    op.drop_table("oidc_identities")
