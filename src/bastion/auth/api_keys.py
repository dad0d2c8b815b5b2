"""``sk-`` API keys for programs.

A key is ``sk-`` and 192 random bits, shown once. Only its SHA-256 is stored: the key
is random, so a fast hash suffices (there is nothing to guess) and a stolen database
holds no usable key. Path scopes are matched on the raw path, segment by segment, so
``/api/models`` allows ``/api/models/x`` but not ``/api/modelsx`` nor an encoded
``/api/models/..%2F..`` detour.

A key in use is read from the database once, then from a bounded cache in memory, only
while this process can tell that the cached copy is current: alone on the database (it
sees every write, so each change drops the copy at once), or with Redis, where every
change to a key deletes its generation and a copy is used only under the generation it
was read under (checked in the request's one round trip, see
:meth:`bastion.shared.redis.RedisStorage.check_api_key`). Otherwise every use asks the
database. Only live keys are cached: an unknown key takes no room, however many are tried.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bastion.auth.last_use import LastUse
from bastion.errors import BastionError, NotFound
from bastion.store.api_keys import ApiKeyRecord, ApiKeyStore
from bastion.store.db import epoch

if TYPE_CHECKING:
    from bastion.shared.breaker import SharedRedis

PREFIX = "sk-"
_KEY_BYTES = 24
MAX_KEY_LENGTH = 200
# Live keys kept in memory; past this, the least recently used is read again when used.
CACHE_SIZE = 10_000
# Segments that could make a raw path mean another path once decoded or normalised.
_SUSPICIOUS = ("%2f", "%5c", "%2e", "\\", "%00", "%25")


class ApiKeyRefused(BastionError):
    status_code = 401
    code = "api_key_invalid"
    detail = "The API key is invalid, expired or revoked."


class ApiKeyOutOfScope(BastionError):
    status_code = 403
    code = "api_key_out_of_scope"
    detail = "This API key may not be used on this endpoint."


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LiveKey:
    """A key as read from the database, not revoked and not expired when it was read."""

    record: ApiKeyRecord
    expires_at: float  # epoch seconds (inf: never), checked against the clock on every use
    # Redis's generation of the key when it was read (None: not vouched for by Redis).
    generation: bytes | None = None


def looks_like_api_key(value: str) -> bool:
    return value.startswith(PREFIX)


def normalise_scope(prefix: str) -> str:
    """A path prefix as stored: absolute, no trailing slash, no query."""
    if not prefix.startswith("/") or "?" in prefix or "#" in prefix:
        raise ValueError(f"{prefix!r} is not an absolute path")
    return prefix.rstrip("/") or "/"


def path_allowed(raw_path: str, prefixes: Iterable[str]) -> bool:
    """Whether ``raw_path`` (undecoded) is one of ``prefixes`` or below one, segment-wise."""
    lowered = raw_path.lower()
    if any(marker in lowered for marker in _SUSPICIOUS):
        return False
    segments = raw_path.split("/")
    if any(segment in {".", ".."} for segment in segments):
        return False
    for prefix in prefixes:
        if prefix == "/":
            return True
        wanted = prefix.split("/")
        if segments[: len(wanted)] == wanted:
            return True
    return False


class ApiKeys:
    def __init__(
        self,
        store: ApiKeyStore,
        *,
        cache: bool,
        shared: SharedRedis | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        """``cache``: whether a cached key can be known current (alone, or with Redis)."""
        self._store = store
        self._clock = clock
        self._shared = shared
        self._cache: OrderedDict[str, LiveKey] | None = OrderedDict() if cache else None
        self.cache_size = cache_size
        # Counts this process's changes to keys: a read that a change overtook is not cached.
        self._changes = 0
        self.last_use = LastUse(self._store, clock=clock)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def create(
        self,
        user_id: str,
        *,
        name: str,
        expires_in: timedelta | None,
        scopes: Sequence[str] = (),
    ) -> tuple[ApiKeyRecord, str]:
        """A new key and its plaintext, which is not kept anywhere."""
        key = PREFIX + secrets.token_hex(_KEY_BYTES)
        now = self._now()
        record = ApiKeyRecord(
            id=str(uuid.uuid4()),
            user_id=user_id,
            name=name,
            prefix=key[:10],
            scopes=tuple(normalise_scope(scope) for scope in scopes),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            last_used_at=None,
            revoked_at=None,
        )
        await self._store.add(record, key_hash=hash_key(key))
        return record, key

    async def list(self, user_id: str) -> list[ApiKeyRecord]:
        return await self._store.unrevoked(user_id)

    async def revoke(self, user_id: str, key_id: str) -> None:
        key_hash = await self._store.revoke(user_id, key_id, self._now())
        await self._changed(key_hash)

    async def set_scopes(self, user_id: str, key_id: str, scopes: Sequence[str]) -> None:
        """Replace the path prefixes the key may be used on (empty: anywhere)."""
        normalised = tuple(normalise_scope(scope) for scope in scopes)
        key_hash = await self._store.set_scopes(user_id, key_id, normalised)
        await self._changed(key_hash)

    async def _changed(self, key_hash: str | None) -> None:
        if key_hash is None:
            raise NotFound("No such API key.")
        self._changes += 1
        self.forget(key_hash)
        if self._shared is not None:
            # The database has the change; Redis tells every other worker and instance,
            # sent even while this process's breaker is open (see SharedRedis.publish).
            await self._shared.publish(lambda redis: redis.forget_api_key(key_hash))

    @property
    def cached_count(self) -> int:
        return 0 if self._cache is None else len(self._cache)

    def cached(self, key_hash: str) -> LiveKey | None:
        """The key's cached copy, if any: current only as the caller establishes."""
        if self._cache is None or (live := self._cache.get(key_hash)) is None:
            return None
        self._cache.move_to_end(key_hash)
        return live

    async def load(self, key_hash: str, generation: bytes | None = None) -> LiveKey | None:
        """The live key with this hash, from the database; None for an unknown, revoked
        or expired one. Cached (under ``generation``) when there is a cache."""
        changes = self._changes
        record = await self._store.by_hash(key_hash)
        if record is None or record.revoked_at is not None:
            self.forget(key_hash)
            return None
        expires_at = math.inf if record.expires_at is None else epoch(record.expires_at)
        live = LiveKey(record, expires_at, generation)
        if not self.in_force(key_hash, live):
            return None
        if self._cache is not None and changes == self._changes:
            self._cache[key_hash] = live
            self._cache.move_to_end(key_hash)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return live

    def in_force(self, key_hash: str, live: LiveKey) -> bool:
        """Whether the key has not expired yet (an expired one leaves the cache)."""
        # Compared at the microseconds the database keeps, as the expiry was computed.
        if live.expires_at == math.inf or live.expires_at > self._now().timestamp():
            return True
        self.forget(key_hash)
        return False

    def forget(self, key_hash: str) -> None:
        if self._cache is not None:
            self._cache.pop(key_hash, None)

    def used(self, key_id: str) -> None:
        """Note the key's use: written off the request path, at most once a minute."""
        self.last_use.note(key_id)

    async def close(self) -> None:
        await self.last_use.flush()
