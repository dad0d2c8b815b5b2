"""Applying limits: refuse with 429 and the ``RateLimit-*`` headers, record the hit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from starlette.types import Scope

from bastion.audit.events import SecurityEvents
from bastion.config.reader import RateLimit
from bastion.errors import BastionError
from bastion.ratelimit.storage import Acquired
from bastion.ratelimit.strategies import Decision, SlidingWindowLog


class RateLimited(BastionError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many requests; retry later."

    def __init__(self, decision: Decision, detail: str | None = None) -> None:
        super().__init__(detail, headers=decision.headers())
        self.decision = decision


class Limiter:
    def __init__(
        self,
        strategy: SlidingWindowLog,
        *,
        events: SecurityEvents,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.strategy = strategy
        self.events = events
        self.clock = clock

    async def hit(
        self,
        name: str,
        items: Sequence[tuple[RateLimit, str]],
        *,
        scope: Scope | None = None,
        **who: Any,
    ) -> Decision:
        """Count one hit under every ``(limit, key)``; raise :class:`RateLimited` if full."""
        decision = await self.strategy.hit(items, self.clock())
        if not decision.allowed:
            self.refused(name, decision, scope=scope, **who)
        return decision

    async def look(
        self,
        name: str,
        items: Sequence[tuple[RateLimit, str]],
        *,
        scope: Scope | None = None,
        **who: Any,
    ) -> Decision:
        """Raise :class:`RateLimited` if a hit on ``items`` would be refused; count none."""
        decision = await self.strategy.look(items, self.clock())
        if not decision.allowed:
            self.refused(name, decision, scope=scope, **who)
        return decision

    def decide(
        self,
        name: str,
        items: Sequence[tuple[RateLimit, str]],
        acquired: Acquired,
        now: float,
        *,
        scope: Scope | None = None,
        **who: Any,
    ) -> Decision:
        """As :meth:`hit`, on counts a storage gave for ``strategy.windows(items)``."""
        decision = self.strategy.decide(items, acquired, now)
        if not decision.allowed:
            self.refused(name, decision, scope=scope, **who)
        return decision

    def refused(
        self, name: str, decision: Decision, *, scope: Scope | None = None, **who: Any
    ) -> NoReturn:
        self.events.record(
            "ratelimit.hit",
            outcome="denied",
            scope=scope,
            limit=name,
            rate=str(decision.limit),
            retry_after=decision.headers().get("Retry-After"),
            **who,
        )
        raise RateLimited(decision)
