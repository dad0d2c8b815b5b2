"""Each account's picture, UI preferences and info (open-webui's), and an upload's metadata.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(
            sa.Column("profile_image_url", sa.Text(), server_default="", nullable=False)
        )
        users.add_column(
            sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        users.add_column(sa.Column("settings", sa.JSON(), nullable=True))
        users.add_column(sa.Column("info", sa.JSON(), nullable=True))
    # The account made first, if an admin, as open-webui counts its primary admin.
    op.execute(
        "UPDATE users SET is_primary = true WHERE role = 'admin' AND id = "
        "(SELECT id FROM users ORDER BY created_at, id LIMIT 1)"
    )
    with op.batch_alter_table("files") as files:
        files.add_column(sa.Column("meta", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as files:
        files.drop_column("meta")
    with op.batch_alter_table("users") as users:
        users.drop_column("info")
        users.drop_column("settings")
        users.drop_column("is_primary")
        users.drop_column("profile_image_url")
