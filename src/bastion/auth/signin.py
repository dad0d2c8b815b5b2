"""The password sign-in, in the order that makes an attack cost the attacker.

1. The rate limits (per e-mail and address, per address, per e-mail), before anything is
   hashed: a flood costs the server a counter.
2. The account's lockout and this address's failures on the e-mail, still before hashing,
   and counted the same whether the account exists or not.
3. The password: an unknown e-mail costs the same hashing as a wrong password, so timing
   tells nothing about which accounts exist; both answer ``InvalidCredentials``.
4. Only then what the account's state says (disabled), so that state is never told to
   someone who does not know the password.

Every outcome is a security event. The route only turns the result into a session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import Scope

from bastion.audit.events import SecurityEvents
from bastion.auth.lockout import Lockouts
from bastion.auth.passwords import PasswordHasher
from bastion.config.ratelimit import RateLimitSettings
from bastion.errors import BastionError, Forbidden, InvalidCredentials
from bastion.ratelimit.limiter import Limiter
from bastion.ratelimit.strategies import Decision
from bastion.store.users import UserRecord, Users


class AccountDisabled(Forbidden):
    code = "account_disabled"
    detail = "This account is disabled."


class InvalidSecondFactor(BastionError):
    status_code = 400
    code = "mfa_code_invalid"
    detail = "The code is incorrect."


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: UserRecord
    # The rate limits' standing after this attempt, for the answer's RateLimit-* headers.
    limits: Decision
    # The password was right but a second factor must follow (``second_factor``).
    second_factor_pending: bool = False


class SignIn:
    def __init__(
        self,
        *,
        users: Users,
        hasher: PasswordHasher,
        lockouts: Lockouts,
        limiter: Limiter,
        limits: RateLimitSettings,
        events: SecurityEvents,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._lockouts = lockouts
        self._limiter = limiter
        self._limits = limits
        self._events = events
        # Whether an account must pass a second factor (set by the services, ``auth/mfa``).
        self.needs_second_factor: Callable[[UserRecord], Awaitable[bool]] | None = None

    async def attempt(self, email: str, password: str, ip: str, scope: Scope) -> SignedIn:
        """The account ``email`` names if ``password`` is its own and it may sign in.

        ``email`` is already normalised; ``scope`` is the request's, for the events.
        Raises ``RateLimited``, the lockout's errors, ``InvalidCredentials`` or
        ``AccountDisabled``.
        """
        decision = await self._limit(email, ip, scope)
        user = await self._users.by_email(email)
        await self._check_lockout(email, ip, user, scope)
        if user is None:
            await self._hasher.dummy_verify_async(password)
            await self._lockouts.failed(email, ip, None)
            self._events.record(
                "auth.signin",
                outcome="failure",
                scope=scope,
                email=email,
                reason="unknown_account",
            )
            raise InvalidCredentials
        result = await self._hasher.verify_async(password, user.password_hash)
        if not result.ok:
            await self._wrong_password(email, ip, user, scope)
            raise InvalidCredentials
        pending = self.needs_second_factor is not None and await self.needs_second_factor(user)
        if not pending:
            # With a second factor to come, the failures count on until it is passed too.
            await self._lockouts.succeeded(user, ip)
        if not user.is_active:
            self._events.record(
                "auth.signin",
                outcome="denied",
                scope=scope,
                user_id=user.id,
                reason="account_disabled",
            )
            raise AccountDisabled
        if result.needs_rehash:
            # An imported bcrypt hash (or weaker argon2) is upgraded now that we know the password.
            new_hash = await self._hasher.hash_async(password)
            await self._users.set_password_hash(user.id, new_hash, revoke=False)
        if pending:
            self._events.record(
                "auth.signin",
                outcome="info",
                scope=scope,
                user_id=user.id,
                role=user.role,
                reason="second_factor_required",
            )
            return SignedIn(user, decision, second_factor_pending=True)
        self._events.record("auth.signin", scope=scope, user_id=user.id, role=user.role)
        return SignedIn(user, decision)

    async def second_factor(
        self,
        user: UserRecord,
        ip: str,
        scope: Scope,
        check: Callable[[], Awaitable[bool]],
        method: str,
    ) -> Decision:
        """Finish the sign-in of ``user`` (past the password) if ``check()`` passes.

        A code is a password of six digits: it meets the same rate limits, delays and
        lockout as passwords, before it is checked, and a failure counts towards them.
        Raises ``RateLimited``, the lockout's errors or ``InvalidSecondFactor``.
        """
        decision = await self._limit(user.email, ip, scope)
        await self._check_lockout(user.email, ip, user, scope)
        if not await check():
            ip_failures, locked = await self._lockouts.failed(user.email, ip, user)
            self._events.record(
                "mfa.failed",
                outcome="failure",
                scope=scope,
                user_id=user.id,
                method=method,
                failures_from_ip=ip_failures,
            )
            if locked:
                self._locked_out(user, scope)
            raise InvalidSecondFactor
        await self._lockouts.succeeded(user, ip)
        self._events.record(
            "auth.signin", scope=scope, user_id=user.id, role=user.role, method=method
        )
        return decision

    async def _limit(self, email: str, ip: str, scope: Scope) -> Decision:
        limits = self._limits
        return await self._limiter.hit(
            "signin",
            [
                (limits.signin_rate_limit_account_ip, f"signin:account-ip:{email}|{ip}"),
                (limits.signin_rate_limit_ip, f"signin:ip:{ip}"),
                (limits.signin_rate_limit_account, f"signin:account:{email}"),
            ],
            scope=scope,
            email=email,
        )

    async def _check_lockout(
        self, email: str, ip: str, user: UserRecord | None, scope: Scope
    ) -> None:
        try:
            await self._lockouts.check(email, ip, user)
        except BastionError as refused:
            self._events.record(
                "ratelimit.hit",
                outcome="denied",
                scope=scope,
                user_id=None if user is None else user.id,
                email=email,
                limit="signin_failures",
                reason=refused.code,
            )
            raise

    async def _wrong_password(self, email: str, ip: str, user: UserRecord, scope: Scope) -> None:
        ip_failures, locked = await self._lockouts.failed(email, ip, user)
        self._events.record(
            "auth.signin",
            outcome="failure",
            scope=scope,
            user_id=user.id,
            email=email,
            reason="wrong_password",
            failures_from_ip=ip_failures,
        )
        if locked:
            self._locked_out(user, scope)

    def _locked_out(self, user: UserRecord, scope: Scope) -> None:
        self._events.record(
            "auth.lockout",
            outcome="denied",
            scope=scope,
            user_id=user.id,
            threshold=self._lockouts.threshold,
        )
