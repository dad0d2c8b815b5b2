"""Failed sign-ins: progressive delays and the account lockout, kept in the database.

The policy (SPEC 4, brute force), applied before any password is hashed:

- each address gets a growing delay on an account after a few consecutive failures
  there: ``base * 2**(failures - free)``, capped at ``max_delay``;
- one address adds at most ``max_per_ip`` failures to an account; past that it is
  refused on that account until someone signs in to it or an admin unlocks it. One
  attacker therefore cannot lock the real user out: reaching the account's threshold
  takes failures from ``threshold / max_per_ip`` addresses at least;
- at ``threshold`` consecutive failures (any addresses) the account is locked until an
  admin unlocks it: no more than that many guesses are ever checked.

A successful sign-in clears the account's count and its own address's failures, not
the other addresses': an attacker's address stays capped while the user signs in.
Per-address failures are counted by e-mail, for e-mails without an account too, so
delays and caps look the same whether or not the account exists.
This lives in the database, the source of truth, so a Redis flush or restart does not
hand an attacker new guesses.

The lockout applies to the e-mail too: an e-mail without an account is locked after the
same failures, and answers the same ``account_locked``, so a lock cannot tell which
e-mails have accounts. Its count lives in the rate-limit storage (Redis, shared; or this
process's bounded memory), not the database: an attacker who tries random e-mails fills
a bounded, expiring store instead of a table. Real accounts' locks stay in the database.
Floods never get this far: the rate limits (Redis, or memory) answer them first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from bastion.errors import BastionError
from bastion.ratelimit.limiter import RateLimited
from bastion.ratelimit.storage import MemoryStorage, Storage
from bastion.ratelimit.strategies import Decision, SlidingWindowLog
from bastion.store.db import Database
from bastion.store.lockouts import LockoutStore
from bastion.store.users import UserRecord


class AccountLocked(BastionError):
    status_code = 429
    code = "account_locked"
    detail = "Too many failed sign-ins: an administrator must unlock this account."


# How long an e-mail without an account stays locked (real accounts: until unlocked).
UNKNOWN_EMAIL_LOCK_PERIOD = 30 * 24 * 3600.0


class Lockouts:
    def __init__(
        self,
        db: Database,
        *,
        free_failures: int,
        base_delay: float,
        max_delay: float,
        max_per_ip: int,
        threshold: int,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = LockoutStore(db)
        self._counts = SlidingWindowLog(MemoryStorage() if storage is None else storage)
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_per_ip = max_per_ip
        self.threshold = threshold
        self._clock = clock

    def delay(self, failures: int) -> float:
        """Seconds an address waits after its ``failures``-th consecutive failure."""
        if failures < self.free_failures:
            return 0.0
        return float(min(self.base_delay * 2 ** (failures - self.free_failures), self.max_delay))

    async def check(self, email: str, client_ip: str, user: UserRecord | None) -> None:
        """Raise before the password is looked at if this attempt may not be made."""
        if user is not None and user.locked:
            raise AccountLocked
        if user is None and await self._unknown_failures(email, record=False) >= self.threshold:
            raise AccountLocked
        address = await self._store.of_address(email, client_ip)
        if address is None:
            return
        failures, last = address.failures, address.last
        if failures >= self.max_per_ip:
            # Held until a sign-in succeeds or an admin unlocks; the longest delay is a hint.
            raise RateLimited(
                _delay_decision(self.max_delay), "Too many failed sign-ins from this address."
            )
        wait = last + self.delay(failures) - self._clock()
        if wait > 0.001:  # the database keeps microseconds: allow for the rounding
            raise RateLimited(_delay_decision(wait), "Too many failed sign-ins; retry later.")

    async def failed(self, email: str, client_ip: str, user: UserRecord | None) -> tuple[int, bool]:
        """Count a failure; answers (failures from this address, account now locked)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        ip_failures, locked = await self._store.count_failure(
            email,
            client_ip,
            now,
            user_id=None if user is None else user.id,
            lock_at=self.threshold,
        )
        if user is None:  # outside the transaction: no lock held while the storage answers
            locked = await self._unknown_failures(email, record=True) == self.threshold
        return ip_failures, locked

    async def _unknown_failures(self, email: str, *, record: bool) -> int:
        """Failures on an e-mail without an account, this one included when ``record``."""
        return await self._counts.count(
            f"lockout:{email}",
            self.threshold,
            UNKNOWN_EMAIL_LOCK_PERIOD,
            self._clock(),
            record=record,
        )

    async def succeeded(self, user: UserRecord, client_ip: str) -> None:
        await self._store.clear(
            user.email, client_ip, user_id=user.id if user.failed_signins else None
        )

    async def unlock(self, user: UserRecord) -> None:
        await self._store.unlock(user.email, user.id)


def _delay_decision(wait: float) -> Decision:
    return Decision(False, None, 0, wait, wait)
