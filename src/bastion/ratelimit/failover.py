"""The rate-limit storage that outlives Redis faults: Redis through the circuit breaker
(``shared.breaker.SharedRedis``), a bounded in-process storage while Redis is away.
"""

from __future__ import annotations

from collections.abc import Sequence

from bastion.ratelimit.storage import Acquired, MemoryStorage, Window
from bastion.shared.breaker import SharedRedis


class FailoverStorage:
    """A rate-limit storage on Redis, on a bounded in-process one while Redis is away.

    Limits stay in force during an outage, per process instead of global.
    """

    def __init__(self, shared: SharedRedis, local: MemoryStorage) -> None:
        self.shared = shared
        self.local = local

    async def acquire(self, windows: Sequence[Window], now: float) -> Acquired:
        result = await self.shared.run(lambda redis: redis.acquire(windows, now))
        return self.local.take(windows, now) if result is None else result

    async def clear(self, key: str) -> None:
        await self.shared.run(lambda redis: redis.clear(key))
        await self.local.clear(key)

    async def close(self) -> None:
        await self.shared.close()
