"""Rate limiting: strategies (what to count) apart from storages (where counts live).

``storage_from_uri("memory://")`` or ``storage_from_uri("redis://host:6379/0")`` gives a
storage; ``SlidingWindowLog(storage)`` counts on it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bastion.ratelimit.limits import RateLimit, parse_limit
from bastion.ratelimit.storage import MemoryStorage, Storage
from bastion.ratelimit.strategies import Decision, SlidingWindowLog

__all__ = [
    "Decision",
    "MemoryStorage",
    "RateLimit",
    "SlidingWindowLog",
    "Storage",
    "parse_limit",
    "storage_from_uri",
]


def storage_from_uri(
    uri: str, *, max_keys: int = 100_000, prefix: str = "bastion", timeout: float = 0.25
) -> Storage:
    """``memory://`` (bounded, this process) or ``redis://``/``rediss://``/``unix://``."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "memory":
        return MemoryStorage(max_keys=max_keys)
    if scheme in {"redis", "rediss", "unix"}:
        from bastion.ratelimit.redis import RedisStorage

        return RedisStorage(uri, prefix=prefix, timeout=timeout)
    raise ValueError(f"no rate-limit storage for {scheme!r} URIs")
