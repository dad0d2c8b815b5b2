"""Groups as rows of their own (open-webui's), with a description and permissions.

Until now a group existed only as a name in ``group_members`` and in model access lists;
each such name becomes a group whose id is that name, so every list keeps meaning what
it meant.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    groups = op.create_table(
        "groups",
        sa.Column("id", sa.String(length=100), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind = op.get_bind()
    members = sa.table("group_members", sa.column("group_name", sa.String()))
    access = sa.table("model_access", sa.column("groups", sa.JSON()))
    names = set(bind.execute(sa.select(members.c.group_name).distinct()).scalars())
    for listed in bind.execute(sa.select(access.c.groups)).scalars():
        names.update(listed or [])
    now = datetime.now(UTC)
    # An access list could name a group longer than any member row allows: it had none.
    rows = [
        {"id": name, "name": name, "permissions": {}, "created_at": now, "updated_at": now}
        for name in sorted(names)
        if isinstance(name, str) and len(name) <= 100
    ]
    if rows:
        op.bulk_insert(groups, rows)


def downgrade() -> None:
    op.drop_table("groups")
