"""Chats shared read-only with given accounts or groups.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_grants",
        sa.Column(
            "chat_id",
            sa.String(length=36),
            sa.ForeignKey("chats.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("principal_type", sa.String(length=8), primary_key=True),
        sa.Column("principal_id", sa.String(length=100), primary_key=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_grants_principal", "chat_grants", ["principal_type", "principal_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_grants_principal", table_name="chat_grants")
    op.drop_table("chat_grants")
