"""The API-key rows: found by hash only, listed without the revoked, changed by the owner."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bastion.store.api_keys import ApiKeyRecord, ApiKeyStore
from bastion.store.db import Database
from tests.unit.store.support import NewUser

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def _key(key_id: str, user_id: str, created_at: datetime = T0) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key_id,
        user_id=user_id,
        name=f"key {key_id}",
        prefix="sk-0123456",
        scopes=("/api/models", "/api/chat/completions"),
        created_at=created_at,
        expires_at=created_at + timedelta(days=30),
        last_used_at=None,
        revoked_at=None,
    )


async def test_a_key_is_found_by_its_hash_as_it_was_stored(db: Database, new_user: NewUser) -> None:
    store = ApiKeyStore(db)
    user = await new_user("a@example.com")
    record = _key("k1", user.id)
    await store.add(record, key_hash="h" * 64)
    # Times come back in UTC (SQLite keeps them naive), scopes as a tuple.
    assert await store.by_hash("h" * 64) == record
    assert await store.by_hash("g" * 64) is None


async def test_listing_is_oldest_first_without_the_revoked(db: Database, new_user: NewUser) -> None:
    store = ApiKeyStore(db)
    owner, other = await new_user("a@example.com"), await new_user("b@example.com")
    await store.add(_key("late", owner.id, T0 + timedelta(hours=1)), key_hash="1" * 64)
    await store.add(_key("early", owner.id, T0), key_hash="2" * 64)
    await store.add(_key("gone", owner.id, T0 - timedelta(hours=1)), key_hash="3" * 64)
    await store.add(_key("theirs", other.id), key_hash="4" * 64)
    # Expired long ago but not revoked: listed (refusing it is the policy's business).
    await store.add(_key("expired", owner.id, T0 - timedelta(days=90)), key_hash="5" * 64)
    assert await store.revoke(owner.id, "gone", T0)
    assert [record.id for record in await store.unrevoked(owner.id)] == [
        "expired",
        "early",
        "late",
    ]
    assert [record.id for record in await store.unrevoked(other.id)] == ["theirs"]


async def test_only_the_owner_revokes_a_key_and_only_once(db: Database, new_user: NewUser) -> None:
    store = ApiKeyStore(db)
    owner, other = await new_user("a@example.com"), await new_user("b@example.com")
    await store.add(_key("k1", owner.id), key_hash="h" * 64)
    assert await store.revoke(other.id, "k1", T0) is None
    assert (await store.by_hash("h" * 64)) == _key("k1", owner.id)
    # The hash comes back: caches keep keys by it.
    assert await store.revoke(owner.id, "k1", T0 + timedelta(minutes=5)) == "h" * 64
    assert await store.revoke(owner.id, "k1", T0 + timedelta(minutes=6)) is None
    assert await store.revoke(owner.id, "no-such-key", T0) is None
    stored = await store.by_hash("h" * 64)
    assert stored is not None and stored.revoked_at == T0 + timedelta(minutes=5)


async def test_only_the_owner_rescopes_a_live_key(db: Database, new_user: NewUser) -> None:
    store = ApiKeyStore(db)
    owner, other = await new_user("a@example.com"), await new_user("b@example.com")
    await store.add(_key("k1", owner.id), key_hash="h" * 64)
    assert await store.set_scopes(other.id, "k1", ["/api/models"]) is None
    assert await store.set_scopes(owner.id, "k1", ["/api/models"]) == "h" * 64
    assert await store.by_hash("h" * 64) == replace(_key("k1", owner.id), scopes=("/api/models",))
    await store.revoke(owner.id, "k1", T0)
    assert await store.set_scopes(owner.id, "k1", []) is None


async def test_touch_writes_each_keys_time_of_use_never_back(
    db: Database, new_user: NewUser
) -> None:
    store = ApiKeyStore(db)
    user = await new_user("a@example.com")
    await store.add(_key("k1", user.id), key_hash="h" * 64)
    await store.add(_key("k2", user.id), key_hash="i" * 64)
    await store.touch({"k1": T0 + timedelta(seconds=90), "k2": T0 + timedelta(seconds=30)})
    # Another worker's older time, written later, does not move the last use back.
    await store.touch({"k1": T0 + timedelta(seconds=60)})
    assert await store.by_hash("h" * 64) == replace(
        _key("k1", user.id), last_used_at=T0 + timedelta(seconds=90)
    )
    assert await store.by_hash("i" * 64) == replace(
        _key("k2", user.id), last_used_at=T0 + timedelta(seconds=30)
    )
