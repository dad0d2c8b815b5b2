"""Files and the model gateway's tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- files ---
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_files_user_id_created_at", "files", ["user_id", "created_at"])
    # --- end files ---
    # --- model gateway: chats, model access, groups ---
    # --- end model gateway ---


def downgrade() -> None:
    # --- model gateway ---
    # --- end model gateway ---
    # --- files ---
    op.drop_index("ix_files_user_id_created_at", table_name="files")
    op.drop_table("files")
    # --- end files ---
