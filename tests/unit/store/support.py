"""What the repositories' tests share: the migrated SQLite database of a started instance.

The fixtures are loaded by ``tests/unit/store/conftest.py``; the tests import ``NewUser``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bastion.store.db import Database
from bastion.store.users import UserRecord, Users
from tests.support import Bastion

NewUser = Callable[[str], Awaitable[UserRecord]]


@pytest.fixture
def db(bastion: Bastion) -> Database:
    return bastion.services.db


@pytest.fixture
def users(db: Database) -> Users:
    """Accounts read from the database each time, so a repository's writes show at once."""
    return Users(db, cache=False)


@pytest.fixture
def new_user(users: Users) -> NewUser:
    """An account to own rows (the tables' foreign keys want one)."""

    async def create(email: str) -> UserRecord:
        return await users.create(
            email=email, name="Someone", password_hash="unused", role="user", first_is_admin=False
        )

    return create
