"""Chat search: each chat's title and message text, case-folded, in a column of its own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# The chat shape as of this revision (open-webui's), read here rather than imported, so
# that this migration keeps doing what it did when the application's code moves on.
def _texts(chat: Any) -> list[str]:
    if isinstance(chat, str):
        chat = json.loads(chat)
    if not isinstance(chat, dict):
        return []
    history = chat.get("history")
    listed = chat.get("messages")
    messages: list[Any] = listed if isinstance(listed, list) else []
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        messages = list(history["messages"].values())
    texts = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    return texts


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    chats = sa.table(
        "chats",
        sa.column("id", sa.String()),
        sa.column("title", sa.String()),
        sa.column("chat", sa.JSON()),
        sa.column("search_text", sa.Text()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(chats.c.id, chats.c.title, chats.c.chat)).all()
    for chat_id, title, chat in rows:
        texts = [title, *_texts(chat)]
        text = "\n".join(text for text in texts if text).casefold()
        connection.execute(sa.update(chats).where(chats.c.id == chat_id).values(search_text=text))


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("search_text")
