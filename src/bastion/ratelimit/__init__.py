"""Rate limiting: strategies (what to count) apart from storages (where counts live).

``storage_from_uri("memory://")`` or ``storage_from_uri("redis://host:6379/0")`` gives a
storage; ``SlidingWindowLog(storage)`` counts on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bastion.config.reader import RateLimit, parse_limit
from bastion.ratelimit.storage import MemoryStorage, Storage
from bastion.ratelimit.strategies import Decision, SlidingWindowLog

if TYPE_CHECKING:
    from bastion.audit.events import SecurityEvents

__all__ = [
    "Decision",
    "Failover",
    "MemoryStorage",
    "RateLimit",
    "SlidingWindowLog",
    "Storage",
    "parse_limit",
    "storage_from_uri",
]


@dataclass(frozen=True, slots=True)
class Failover:
    """Keep counting locally while Redis is away (see ``ratelimit.failover``)."""

    events: SecurityEvents
    retry_interval: float = 5.0
    clock: Callable[[], float] = time.time


def storage_from_uri(
    uri: str,
    *,
    max_keys: int = 100_000,
    prefix: str = "bastion",
    timeout: float = 0.25,
    failover: Failover | None = None,
) -> Storage:
    """``memory://`` (bounded, this process) or ``redis://``/``rediss://``/``unix://``.

    With ``failover`` a Redis URI gives a :class:`FailoverStorage`: Redis behind the circuit
    breaker (its ``shared`` is the breaker the rest of the application uses), a bounded
    memory storage of ``max_keys`` while Redis cannot be used.
    """
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "memory":
        return MemoryStorage(max_keys=max_keys)
    if scheme in {"redis", "rediss", "unix"}:
        from bastion.shared.redis import RedisStorage

        redis = RedisStorage(uri, prefix=prefix, timeout=timeout)
        if failover is None:
            return redis
        from bastion.ratelimit.failover import FailoverStorage
        from bastion.shared.breaker import SharedRedis

        shared = SharedRedis(
            redis,
            events=failover.events,
            retry_interval=failover.retry_interval,
            clock=failover.clock,
        )
        return FailoverStorage(shared, MemoryStorage(max_keys=max_keys))
    raise ValueError(f"no rate-limit storage for {scheme!r} URIs")
