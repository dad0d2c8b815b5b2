"""Redis when it answers, local state when it does not, and back by itself.

A circuit breaker: the first Redis error, timeout or unusable reply opens it
(``redis.fallback``), and every call then goes straight to the local fallback without
waiting on Redis. After ``retry_interval`` a background probe pings Redis and re-seeds
it from the database (the source of truth); only then are calls sent to Redis again
(``redis.recovered``).
No request ever waits on the probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from bastion.audit.events import SecurityEvents
from bastion.shared.redis import RedisStorage

T = TypeVar("T")
log = logging.getLogger("bastion.redis")

# What a broken, hung, restarting or absent Redis raises through redis-py; a reply that
# cannot be used (``UnusableReply``, from a wrong service or a broken proxy) is a RedisError.
REDIS_FAULTS = (RedisError, OSError, TimeoutError)


class SharedRedis:
    def __init__(
        self,
        redis: RedisStorage,
        *,
        events: SecurityEvents,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.events = events
        self.retry_interval = retry_interval
        self._clock = clock
        self.available: bool | None = None  # None until started
        self._retry_at = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._reseed: asyncio.Task[None] | None = None
        # Run, in order, before Redis is trusted again (re-seeding from the database).
        self.on_recover: list[Callable[[RedisStorage], Awaitable[None]]] = []

    async def start(self) -> None:
        """Connect and seed at start; an absent Redis only means starting on fallback."""
        try:
            await self._prepare()
        except REDIS_FAULTS as exc:
            self._trip(exc)
        else:
            self.available = True

    async def run(self, operation: Callable[[RedisStorage], Awaitable[T]]) -> T | None:
        """``operation`` on Redis, or None at once when Redis cannot be used."""
        if not self.available:
            self._maybe_probe()
            return None
        try:
            return await operation(self.redis)
        except REDIS_FAULTS as exc:
            self._trip(exc)
            return None

    async def publish(self, operation: Callable[[RedisStorage], Awaitable[None]]) -> bool:
        """A write that other workers and instances rely on (a revocation, a new token
        version), sent even while this process's breaker is open: they may still be
        reading Redis, seeded and trusted, while this process gave up on it after one slow
        reply, and would accept a signed-out token until this one re-seeds. A Redis that
        is down refuses at once, and then every process is on the database anyway."""
        try:
            await operation(self.redis)
        except REDIS_FAULTS as exc:
            self._trip(exc)
            log.warning("Redis missed a write the other processes rely on (%s)", type(exc).__name__)
            return False
        return True

    def reseed_soon(self) -> None:
        """Redis answered but has lost its state (flushed, restarted): seed it again."""
        if self._reseed is None or self._reseed.done():
            self._reseed = asyncio.create_task(self._reseed_now())

    async def _reseed_now(self) -> None:
        try:
            await self._prepare()
        except Exception as exc:  # Redis or the database: the database path goes on
            self._trip(exc)

    async def _prepare(self) -> None:
        await self.redis.ping()
        for hook in self.on_recover:
            await hook(self.redis)

    def _trip(self, exc: BaseException) -> None:
        self._retry_at = self._clock() + self.retry_interval
        if self.available is not False:
            self.available = False
            reason = type(exc).__name__
            log.warning("Redis unavailable (%s): using local state", reason)
            self.events.record("redis.fallback", outcome="failure", reason=reason)

    def _maybe_probe(self) -> None:
        if self._clock() < self._retry_at or (self._probe is not None and not self._probe.done()):
            return
        self._probe = asyncio.create_task(self._recover())

    async def _recover(self) -> None:
        try:
            # Connections from before the fault may be dead without knowing it yet.
            await self.redis.disconnect()
            await self._prepare()
        except Exception:  # still down (or the database failed the re-seed): try later
            self._retry_at = self._clock() + self.retry_interval
            return
        self.available = True
        log.warning("Redis answers again: shared state restored")
        self.events.record("redis.recovered", outcome="success")

    async def settle(self) -> None:
        """Wait for a probe or a re-seed under way (tests; an orderly shutdown)."""
        for task in (self._probe, self._reseed):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        for task in (self._probe, self._reseed):
            if task is not None and not task.done():
                task.cancel()
        await self.settle()
        await self.redis.close()
