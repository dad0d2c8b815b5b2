"""The API-key cache and the last use, on an in-memory store: bounded, never holding a
key that is not live, and writing each key's last use off the request path, at most
once a minute."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bastion.audit.events import SecurityEvents
from bastion.auth.api_keys import ApiKeyRefused, ApiKeys, hash_key
from bastion.auth.authenticate import Authenticator, Credential
from bastion.auth.last_use import LastUse
from bastion.config.reader import RateLimit
from bastion.ratelimit.limiter import Limiter, RateLimited
from bastion.ratelimit.storage import MemoryStorage
from bastion.ratelimit.strategies import SlidingWindowLog
from bastion.store.api_keys import ApiKeyRecord, ApiKeyStore
from bastion.store.users import UserRecord
from tests.support import Clock

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


class MemoryKeyStore(ApiKeyStore):
    """The rows of ``api_keys`` in a dict, counting look-ups and writes of last use."""

    def __init__(self) -> None:
        self.rows: dict[str, ApiKeyRecord] = {}
        self.lookups = 0
        self.touched: list[dict[str, datetime]] = []
        self.hold: asyncio.Event | None = None  # set: writes of last use wait for it

    def put(self, key: str, *, expires_at: datetime | None = None) -> ApiKeyRecord:
        record = ApiKeyRecord(
            id=f"id-{len(self.rows)}",
            user_id="owner",
            name="k",
            prefix=key[:10],
            scopes=(),
            created_at=T0,
            expires_at=expires_at,
            last_used_at=None,
            revoked_at=None,
        )
        self.rows[hash_key(key)] = record
        return record

    async def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return self.rows.get(key_hash)

    async def touch(self, used: dict[str, datetime]) -> None:  # type: ignore[override]
        if self.hold is not None:
            await self.hold.wait()
        self.touched.append(dict(used))


class OneUser:
    def __init__(self) -> None:
        self.user = UserRecord(
            id="owner",
            email="owner@example.com",
            name="Owner",
            role="user",
            is_active=True,
            token_version=0,
            password_hash="",
            created_at=T0,
        )

    async def get(self, user_id: str) -> UserRecord | None:
        return self.user if user_id == self.user.id else None


def _key() -> str:
    return "sk-" + secrets.token_hex(24)


def _authenticator(api_keys: ApiKeys, storage: MemoryStorage, clock: Clock) -> Authenticator:
    return Authenticator(
        tokens=None,  # type: ignore[arg-type]
        revocations=None,  # type: ignore[arg-type]
        sessions=None,  # type: ignore[arg-type]
        users=OneUser(),  # type: ignore[arg-type]
        api_keys=api_keys,
        api_keys_enabled=True,
        allowed_endpoints=None,
        limiter=Limiter(SlidingWindowLog(storage), events=SecurityEvents([]), clock=clock),
        user_limit=RateLimit(10**9, 60.0),
        key_limit=RateLimit(10**9, 60.0),
        key_failure_limit=RateLimit(5, 60.0),
    )


def _scope(address: str) -> dict[str, object]:
    return {"type": "http", "client": (address, 4000), "headers": []}


async def test_a_million_distinct_bogus_keys_leave_the_cache_flat() -> None:
    store = MemoryKeyStore()
    valid = _key()
    store.put(valid)
    api_keys = ApiKeys(store, cache=True, cache_size=1000)
    assert await api_keys.load(hash_key(valid)) is not None
    for i in range(1_000_000):
        key_hash = hash_key(f"sk-{i:048x}")
        # What the authenticator does with a key it does not hold.
        assert api_keys.cached(key_hash) is None
        assert await api_keys.load(key_hash) is None
    assert store.lookups == 1_000_001
    assert api_keys.cached_count == 1
    assert api_keys.cached(hash_key(valid)) is not None


async def test_bogus_keys_from_many_addresses_leave_cache_and_limiter_within_bounds() -> None:
    clock = Clock()
    store = MemoryKeyStore()
    valid = _key()
    store.put(valid)
    api_keys = ApiKeys(store, cache=True, clock=clock, cache_size=1000)
    storage = MemoryStorage(max_keys=1000)
    authenticator = _authenticator(api_keys, storage, clock)
    await authenticator.authenticate(Credential(valid, "bearer"), "/", _scope("10.0.0.1"))
    refused = 0
    for i in range(20_000):
        try:
            await authenticator.authenticate(
                Credential(f"sk-{i:048x}", "bearer"), "/", _scope(f"10.1.{i >> 8}.{i & 255}")
            )
        except ApiKeyRefused:
            refused += 1
    assert refused == 20_000
    assert api_keys.cached_count == 1
    assert len(storage) == 1000  # each address's failures, the least recent dropped
    store.lookups = 0
    principal = await authenticator.authenticate(
        Credential(valid, "bearer"), "/", _scope("10.0.0.1")
    )
    assert principal.api_key_id == "id-0" and store.lookups == 0
    await api_keys.close()


async def test_bogus_keys_from_one_address_are_refused_before_any_lookup() -> None:
    clock = Clock()
    store = MemoryKeyStore()
    cached, fresh = _key(), _key()
    store.put(cached)
    store.put(fresh)
    api_keys = ApiKeys(store, cache=True, clock=clock)
    authenticator = _authenticator(api_keys, MemoryStorage(), clock)
    flooder = _scope("203.0.113.9")
    await authenticator.authenticate(Credential(cached, "bearer"), "/", flooder)
    outcomes = []
    for _ in range(7):
        try:
            await authenticator.authenticate(Credential(_key(), "bearer"), "/", flooder)
        except (ApiKeyRefused, RateLimited) as refused:
            outcomes.append(refused.code)
    assert outcomes == ["api_key_invalid"] * 5 + ["rate_limited"] * 2
    assert store.lookups == 1 + 5  # the valid key once, then the five failures the limit allows
    # A key this process holds is not looked up, so the flood does not refuse it ...
    assert (await authenticator.authenticate(Credential(cached, "bearer"), "/", flooder)).api_key_id
    # ... nor callers from other addresses; a key not held yet waits for the window.
    other = await authenticator.authenticate(Credential(fresh, "bearer"), "/", _scope("192.0.2.1"))
    assert other.api_key_id == "id-1"
    api_keys.forget(hash_key(fresh))
    with pytest.raises(RateLimited):
        await authenticator.authenticate(Credential(fresh, "bearer"), "/", flooder)
    assert store.lookups == 7
    clock.advance(60)
    assert (await authenticator.authenticate(Credential(fresh, "bearer"), "/", flooder)).api_key_id
    await api_keys.close()


async def test_the_cache_keeps_the_most_recently_used_keys_up_to_its_size() -> None:
    store = MemoryKeyStore()
    keys = [_key() for _ in range(4)]
    for key in keys:
        store.put(key)
    api_keys = ApiKeys(store, cache=True, cache_size=2)
    for key in keys[:2]:
        assert await api_keys.load(hash_key(key)) is not None
    assert api_keys.cached(hash_key(keys[0])) is not None  # now the most recently used
    await api_keys.load(hash_key(keys[2]))
    assert api_keys.cached_count == 2
    assert api_keys.cached(hash_key(keys[1])) is None
    assert api_keys.cached(hash_key(keys[0])) is not None
    assert api_keys.cached(hash_key(keys[2])) is not None


async def test_unknown_revoked_and_expired_keys_are_never_cached() -> None:
    clock = Clock(T0.timestamp())
    store = MemoryKeyStore()
    revoked, expired, live = _key(), _key(), _key()
    store.rows[hash_key(revoked)] = replace(store.put(revoked), revoked_at=T0)
    store.put(expired, expires_at=T0)
    store.put(live, expires_at=T0 + timedelta(seconds=1))
    api_keys = ApiKeys(store, cache=True, clock=clock)
    for key in (_key(), revoked, expired):
        assert await api_keys.load(hash_key(key)) is None
    assert api_keys.cached_count == 0
    cached = await api_keys.load(hash_key(live))
    assert cached is not None and api_keys.cached_count == 1
    # Expiry is checked against the clock on every use; an expired key leaves the cache.
    assert api_keys.in_force(hash_key(live), cached)
    clock.advance(1)
    assert not api_keys.in_force(hash_key(live), cached)
    assert api_keys.cached_count == 0


async def test_a_read_overtaken_by_a_change_is_not_cached() -> None:
    class SlowStore(MemoryKeyStore):
        """Reads the row at once and answers only when the gate opens."""

        gate = asyncio.Event()

        async def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
            record = self.rows.get(key_hash)
            await self.gate.wait()
            return record

        async def revoke(self, user_id: str, key_id: str, at: datetime) -> str | None:
            for key_hash, record in self.rows.items():
                if record.id == key_id:
                    self.rows[key_hash] = replace(record, revoked_at=at)
                    return key_hash
            return None

    store = SlowStore()
    key = _key()
    store.put(key)
    api_keys = ApiKeys(store, cache=True)
    reading = asyncio.create_task(api_keys.load(hash_key(key)))
    await asyncio.sleep(0)  # the row is read, its answer still on the way
    await api_keys.revoke("owner", "id-0")
    store.gate.set()
    assert await reading is not None  # that request began before the revocation ...
    assert api_keys.cached(hash_key(key)) is None  # ... but what it read is not kept
    assert await api_keys.load(hash_key(key)) is None


async def test_without_a_cache_every_use_asks_the_store() -> None:
    store = MemoryKeyStore()
    key = _key()
    store.put(key)
    api_keys = ApiKeys(store, cache=False)
    for _ in range(3):
        assert await api_keys.load(hash_key(key)) is not None
        assert api_keys.cached(hash_key(key)) is None
    assert store.lookups == 3 and api_keys.cached_count == 0


# --- last use --------------------------------------------------------------------------


async def test_a_use_is_written_in_the_background_at_most_once_a_minute() -> None:
    clock = Clock(T0.timestamp())
    store = MemoryKeyStore()
    store.hold = asyncio.Event()
    last_use = LastUse(store, clock=clock)
    last_use.note("k1")
    last_use.note("k2")
    await asyncio.sleep(0)
    assert store.touched == []  # the write waits on the database; the caller did not
    clock.advance(30)
    last_use.note("k1")  # within the minute: not written again
    clock.advance(29)
    last_use.note("k1")
    store.hold.set()
    await last_use.flush()
    assert store.touched == [{"k1": T0, "k2": T0}]
    clock.advance(1)  # a minute after the last write
    last_use.note("k1")
    await last_use.flush()
    assert store.touched[1:] == [{"k1": T0 + timedelta(seconds=60)}]


async def test_uses_noted_while_a_write_is_under_way_are_written_after_it() -> None:
    clock = Clock(T0.timestamp())
    store = MemoryKeyStore()
    store.hold = asyncio.Event()
    last_use = LastUse(store, clock=clock)
    last_use.note("k1")
    await asyncio.sleep(0)  # the writer has taken k1 and waits on the database
    last_use.note("k2")
    store.hold.set()
    await last_use.flush()
    assert store.touched == [{"k1": T0}, {"k2": T0}]


async def test_a_failed_write_is_tried_again_on_the_next_use() -> None:
    clock = Clock(T0.timestamp())

    class Broken(MemoryKeyStore):
        failing = True

        async def touch(self, used: dict[str, datetime]) -> None:  # type: ignore[override]
            if self.failing:
                raise OSError("database is away")
            await super().touch(used)

    store = Broken()
    last_use = LastUse(store, clock=clock)
    last_use.note("k1")
    await last_use.flush()
    store.failing = False
    clock.advance(1)
    last_use.note("k1")
    await last_use.flush()
    assert store.touched == [{"k1": T0 + timedelta(seconds=1)}]


async def test_closing_writes_the_uses_still_waiting() -> None:
    clock = Clock(T0.timestamp())
    store = MemoryKeyStore()
    store.hold = asyncio.Event()
    api_keys = ApiKeys(store, cache=True, clock=clock)
    api_keys.used("k1")
    closing = asyncio.create_task(api_keys.close())
    await asyncio.sleep(0)
    assert not closing.done()  # shutdown waits for the write under way
    store.hold.set()
    await closing
    assert store.touched == [{"k1": T0}]
