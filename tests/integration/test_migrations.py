"""The Alembic migrations build exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from bastion.store.db import _driver_url, downgrade, migrate
from bastion.store.models import Base

TABLES = {
    "users",
    "revoked_tokens",
    "sessions",
    "api_keys",
    "files",
    "chats",
    "chat_tags",
    "chat_grants",
    "runtime_settings",
    "runtime_settings_version",
    "folders",
    "groups",
    "model_access",
    "group_members",
    "signin_failures",
    "mfa_totp",
    "mfa_recovery_codes",
    "mfa_challenges",
    "webauthn_credentials",
    "oidc_identities",
    "oidc_flows",
    "oidc_logins",
    "oidc_seen_logouts",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bastion.db'}"
    return request.getfixturevalue("postgres_database")


def _schema(url: str) -> tuple[set[str], list[object]]:
    engine = create_engine(_driver_url(url, asynchronous=False))
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    return tables, differences


def test_upgrade_builds_the_models_schema(database_url: str) -> None:
    migrate(database_url)
    tables, differences = _schema(database_url)
    assert tables == TABLES
    assert differences == []


def test_upgrade_is_idempotent_and_downgrade_reverses_it(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)
    downgrade(database_url, "base")
    assert _schema(database_url)[0] == {"alembic_version"}
    migrate(database_url)
    assert _schema(database_url)[0] == TABLES


def test_chats_stored_before_search_are_found_by_their_text(database_url: str) -> None:
    migrate(database_url, "0003")
    engine = create_engine(_driver_url(database_url, asynchronous=False))
    chat = {"history": {"messages": {"m": {"role": "user", "content": "Ein GRÜNER Apfel"}}}}
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, password_hash, is_active,"
                    " token_version) VALUES ('u', 'u@example.com', 'U', 'user', 'x', true, 0)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO chats (id, user_id, title, chat, created_at, updated_at)"
                    " VALUES ('c', 'u', 'Obst', :chat, :now, :now)"
                ),
                {"chat": json.dumps(chat), "now": datetime.now(UTC)},
            )
        migrate(database_url)
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT search_text FROM chats")).scalar_one()
    finally:
        engine.dispose()
    assert stored == "obst\nein grüner apfel"


def test_groups_named_before_0009_become_groups_and_the_first_admin_primary(
    database_url: str,
) -> None:
    migrate(database_url, "0007")
    engine = create_engine(_driver_url(database_url, asynchronous=False))
    insert_user = text(
        "INSERT INTO users (id, email, name, role, password_hash, is_active, token_version,"
        " created_at) VALUES (:id, :email, :id, 'admin', 'x', true, 0, :at)"
    )
    insert_access = text(
        "INSERT INTO model_access (model_id, user_ids, groups) VALUES ('m', '[]', :groups)"
    )
    try:
        with engine.begin() as connection:
            for user_id, month in (("first", 1), ("later", 2)):
                at = datetime(2026, month, 1, tzinfo=UTC)
                connection.execute(
                    insert_user, {"id": user_id, "email": f"{user_id}@example.com", "at": at}
                )
            connection.execute(
                text("INSERT INTO group_members (group_name, user_id) VALUES ('eng', 'later')")
            )
            connection.execute(insert_access, {"groups": json.dumps(["eng", "ops"])})
        migrate(database_url)
        with engine.connect() as connection:
            groups = connection.execute(text("SELECT id, name FROM groups ORDER BY id")).all()
            primary = connection.execute(text("SELECT id FROM users WHERE is_primary"))
            primary_ids = primary.scalars().all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in groups] == [("eng", "eng"), ("ops", "ops")]
    assert primary_ids == ["first"]
