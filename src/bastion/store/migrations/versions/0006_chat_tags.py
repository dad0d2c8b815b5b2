"""Tags on chats (open-webui's), one row per tag on a chat.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_tags",
        sa.Column(
            "chat_id",
            sa.String(length=36),
            sa.ForeignKey("chats.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag_id", sa.String(length=255), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_tags_user_id_tag_id", "chat_tags", ["user_id", "tag_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_tags_user_id_tag_id", table_name="chat_tags")
    op.drop_table("chat_tags")
