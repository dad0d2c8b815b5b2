"""The upload rows: each user's files, newest first, gone when deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bastion.store.db import Database
from bastion.store.files import FileRecord, FileStore
from tests.unit.store.support import NewUser

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def _file(file_id: str, user_id: str, created_at: datetime = T0) -> FileRecord:
    return FileRecord(
        id=file_id,
        user_id=user_id,
        filename=f"{file_id}.txt",
        content_type="text/plain",
        size=12,
        sha256="0" * 64,
        created_at=created_at,
    )


def _utc(record: FileRecord | None) -> FileRecord | None:
    # SQLite gives stored times back naive; they are UTC.
    if record is None:
        return None
    return replace(record, created_at=record.created_at.replace(tzinfo=UTC))


async def test_a_file_is_read_back_as_it_was_stored(db: Database, new_user: NewUser) -> None:
    store = FileStore(db)
    user = await new_user("a@example.com")
    await store.add(_file("f1", user.id))
    assert _utc(await store.get("f1")) == _file("f1", user.id)
    assert await store.get("f2") is None


async def test_a_users_files_are_listed_newest_first_and_only_theirs(
    db: Database, new_user: NewUser
) -> None:
    store = FileStore(db)
    owner, other = await new_user("a@example.com"), await new_user("b@example.com")
    await store.add(_file("old", owner.id, T0 - timedelta(hours=1)))
    # Same moment, added in an order that neither insertion order nor its reverse sorts.
    for file_id in ("b-same", "a-same", "c-same"):
        await store.add(_file(file_id, owner.id))
    await store.add(_file("theirs", other.id))
    # Files of the same moment come in id order, so a listing is stable.
    assert [record.id for record in await store.list(owner.id)] == [
        "a-same",
        "b-same",
        "c-same",
        "old",
    ]
    assert [record.id for record in await store.list(other.id)] == ["theirs"]


async def test_a_deleted_file_is_gone_and_the_others_stay(db: Database, new_user: NewUser) -> None:
    store = FileStore(db)
    user = await new_user("a@example.com")
    await store.add(_file("f1", user.id))
    await store.add(_file("f2", user.id))
    await store.delete("f1")
    await store.delete("f1")  # deleting what is gone already is no error
    assert await store.get("f1") is None
    assert [record.id for record in await store.list(user.id)] == ["f2"]
