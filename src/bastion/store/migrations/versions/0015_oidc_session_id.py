"""Single sign-on: each sign-in made through the provider names Bastion's session, so
that the provider's back-channel logout ends the session record, not only its token.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("oidc_logins", sa.Column("session_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oidc_logins") as batch:
        batch.drop_column("session_id")
