"""Signed-out tokens, refused until they would have expired anyway.

The database is the source of truth. A process that sees every revocation (a single
worker) keeps them all in memory, loaded at start, so a check costs a dict look-up and
a restart forgets nothing; several workers without a shared cache ask the database on
every check, because a revocation made by another worker must hold at once.

With Redis, each revocation is also written there (TTL: the token's remaining lifetime)
and checked there by every worker and instance; whenever Redis has been away or lost its
state, it is seeded again from the database before it is trusted (``seed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bastion.store.db import Database, epoch
from bastion.store.revocations import RevocationStore

if TYPE_CHECKING:
    from bastion.shared.breaker import SharedRedis
    from bastion.shared.redis import RedisStorage

_NEVER = float("inf")


class Revocations:
    def __init__(
        self,
        db: Database,
        *,
        cache: bool,
        clock: Callable[[], float] = time.time,
        shared: SharedRedis | None = None,
    ) -> None:
        self._store = RevocationStore(db)
        self._clock = clock
        # jti -> expiry (epoch seconds); None when every check goes to the database.
        self._cache: dict[str, float] | None = {} if cache else None
        self._shared = shared

    async def _in_force(self) -> dict[str, float]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        revoked = await self._store.in_force(now)
        return {jti: _epoch(expires_at) for jti, expires_at in revoked.items()}

    async def load(self) -> None:
        """Fill the in-process cache with every revocation still in force."""
        if self._cache is not None:
            self._cache = await self._in_force()

    async def seed(self, redis: RedisStorage) -> None:
        """Copy every revocation in force to Redis, then mark Redis as seeded."""
        now = self._clock()
        revoked = await self._in_force()
        await redis.seed(
            (jti, None if expiry == _NEVER else expiry - now) for jti, expiry in revoked.items()
        )

    async def is_revoked(self, jti: str, sid: str) -> bool:
        """Whether the token or its session was revoked (a session's id is kept like a jti)."""
        if self._cache is not None:
            return jti in self._cache or sid in self._cache
        return await self._store.contains_any(jti, sid)

    async def revoke(self, jti: str, user_id: str, expires_at: int | None) -> None:
        await self._store.add(
            jti,
            user_id,
            expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, UTC),
            revoked_at=datetime.fromtimestamp(self._clock(), UTC),
        )
        if self._cache is not None:
            self._cache[jti] = _NEVER if expires_at is None else float(expires_at)
        if self._shared is not None:
            ttl = None if expires_at is None else expires_at - self._clock()
            await self._shared.publish(lambda redis: redis.mark_revoked(jti, ttl))

    async def prune(self) -> int:
        """Forget revocations of tokens that have expired since: they are refused anyway."""
        now = self._clock()
        pruned = await self._store.prune(datetime.fromtimestamp(now, UTC))
        if self._cache is not None:
            self._cache = {jti: exp for jti, exp in self._cache.items() if exp >= now}
        return pruned


def _epoch(moment: datetime | None) -> float:
    return _NEVER if moment is None else epoch(moment)
