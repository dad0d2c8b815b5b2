"""The sliding-window log: exact rolling windows over any storage.

Why a log and not a counter: a fixed window lets through twice the limit across a
boundary, and a sliding-window counter only estimates the previous window's share, so
its "3 minutes" is an approximation. The log keeps one time per hit and counts exactly
those of the last ``period`` seconds: a hit made at ``t`` stops counting at
``t + period``, not a moment sooner or later. It costs one entry per hit still in the
window, which the limits here (sign-in, API use) keep small.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from bastion.config.reader import RateLimit
from bastion.ratelimit.storage import Acquired, Storage, Window


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: RateLimit | None  # the limit closest to its end (None: nothing was limited)
    remaining: int
    reset_after: float  # seconds until the binding window has room again / empties
    retry_after: float  # seconds to wait before a retry can pass (0 when allowed)

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` (IETF draft) and, when refused, ``Retry-After``."""
        headers = {}
        if self.limit is not None:
            headers["RateLimit-Limit"] = str(self.limit.amount)
            headers["RateLimit-Remaining"] = str(self.remaining)
            headers["RateLimit-Reset"] = str(_seconds(self.reset_after))
        if not self.allowed:
            headers["Retry-After"] = str(max(1, _seconds(self.retry_after)))
        return headers


def _seconds(value: float) -> int:
    # Whole seconds, rounded up; stored times carry microseconds, so ignore what is below.
    return math.ceil(round(value, 3))


UNLIMITED = Decision(True, None, 0, 0.0, 0.0)

_token_prefix = secrets.token_hex(6)
_token_counter = itertools.count()


def hit_token() -> str:
    """A name for one hit, unique across processes (a log holds each hit once)."""
    return f"{_token_prefix}:{next(_token_counter)}"


def windows_for(items: Sequence[tuple[RateLimit, str]]) -> list[Window]:
    return [
        Window(f"rl:{limit.amount}/{limit.period:g}:{key}", limit.amount, limit.period)
        for limit, key in items
    ]


def decide(items: Sequence[tuple[RateLimit, str]], acquired: Acquired, now: float) -> Decision:
    """Turn a storage's counts into a decision: the limit with least room is reported."""
    best: Decision | None = None
    for (limit, _), state in zip(items, acquired.states, strict=True):
        free_at = max(0.0, state.oldest + limit.period - now)
        if acquired.allowed:
            remaining = max(0, limit.amount - state.count - 1)
            decision = Decision(
                True, limit, remaining, free_at if state.count else limit.period, 0.0
            )
        else:
            full = state.count >= limit.amount
            decision = Decision(
                False, limit, max(0, limit.amount - state.count), free_at, free_at if full else 0.0
            )
        if best is None or _tighter(decision, best):
            best = decision
    return best or UNLIMITED


def _tighter(a: Decision, b: Decision) -> bool:
    if a.allowed:
        return a.remaining < b.remaining
    return a.retry_after > b.retry_after


class SlidingWindowLog:
    """Strategy: computes keys and compares counts; the storage only records hits."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def hit(self, items: Sequence[tuple[RateLimit, str]], now: float) -> Decision:
        """Count one hit against every ``(limit, key)`` at once, or against none."""
        if not items:
            return UNLIMITED
        acquired = await self.storage.acquire(self.windows(items), now)
        return self.decide(items, acquired, now)

    def windows(self, items: Sequence[tuple[RateLimit, str]]) -> list[Window]:
        """What to ask a storage for one hit on ``items``, for a caller that sends it
        together with other work in one round trip (the token check does)."""
        return windows_for(items)

    def decide(
        self, items: Sequence[tuple[RateLimit, str]], acquired: Acquired, now: float
    ) -> Decision:
        """The decision on what a storage answered to :meth:`windows`."""
        return decide(items, acquired, now)

    async def look(self, items: Sequence[tuple[RateLimit, str]], now: float) -> Decision:
        """Whether a hit on ``items`` would pass, without counting one.

        For limits on failures: look before the costly work, count (:meth:`hit`) only
        when it failed. Windows of amount 0 are always full, so the storage reports the
        counts and records nothing, through the one primitive storages provide.
        """
        if not items:
            return UNLIMITED
        looks = [Window(window.key, 0, window.period) for window in self.windows(items)]
        acquired = await self.storage.acquire(looks, now)
        allowed = all(
            state.count < limit.amount
            for (limit, _), state in zip(items, acquired.states, strict=True)
        )
        return self.decide(items, Acquired(allowed, acquired.states), now)

    async def count(self, key: str, amount: int, period: float, now: float, *, record: bool) -> int:
        """Hits under ``key`` in the last ``period``, this one included when ``record``
        is true and there was room under ``amount``.

        Without ``record`` it is a look: a window of amount 0 is always full, so the
        storage reports the count and adds nothing, through the one primitive storages
        provide.
        """
        window = Window(key, amount if record else 0, period)
        acquired = await self.storage.acquire([window], now)
        return acquired.states[0].count + (1 if acquired.allowed else 0)

    async def reset(self, limit: RateLimit, key: str) -> None:
        await self.storage.clear(windows_for([(limit, key)])[0].key)
