"""Who is calling: a session token (cookie or bearer) or an ``sk-`` API key.

How a credential travels (cookie or ``Authorization``) is read here; how it is checked
lives with the token service, the revocation list and the API keys. With Redis, each
request's shared facts (revoked?, the account's token version, an API key's generation,
the caller's rate limits and the route's own) come back in one round trip; while Redis
is away or has lost its state, the database answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from starlette.requests import cookie_parser
from starlette.types import Scope

from bastion.auth.api_keys import (
    MAX_KEY_LENGTH,
    ApiKeyOutOfScope,
    ApiKeyRefused,
    ApiKeys,
    LiveKey,
    hash_key,
    looks_like_api_key,
    path_allowed,
)
from bastion.auth.revocation import Revocations
from bastion.auth.sessions import Sessions
from bastion.auth.tokens import InvalidToken, TokenClaims, TokenService
from bastion.config.reader import RateLimit
from bastion.errors import BastionError, NotAuthenticated
from bastion.ratelimit.limiter import Limiter
from bastion.ratelimit.storage import Acquired
from bastion.ratelimit.strategies import Decision
from bastion.runtime import SETTINGS_VERSION_SEEN
from bastion.shared.breaker import SharedRedis
from bastion.store.users import UserRecord, Users

COOKIE_NAME = "token"


class ApiKeysDisabled(BastionError):
    status_code = 403
    code = "api_keys_disabled"
    detail = "API keys are disabled on this server."


@dataclass(frozen=True, slots=True)
class Principal:
    user: UserRecord
    via: Literal["cookie", "bearer", "api_key"]
    token: TokenClaims | None = None
    api_key_id: str | None = None
    # Where the caller stands with the route's own limit, when it has one.
    route_limit: Decision | None = None


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A route's own limit (costly calls, web fetch), counted per API key when called with
    one, else per user; ``name`` is the limit's in ``ratelimit.hit`` events."""

    name: str
    limit: RateLimit


@dataclass(frozen=True, slots=True)
class Credential:
    value: str
    via: Literal["cookie", "bearer"]


def read_credential(headers: list[tuple[bytes, bytes]]) -> Credential | None:
    """The bearer token if there is one, else the auth cookie."""
    cookie_header = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return Credential(credentials.strip(), "bearer")
        elif name == b"cookie":
            cookie_header = value
    if cookie_header is None:
        return None
    # Starlette's parser, like browsers, skips a malformed cookie instead of giving up.
    token = cookie_parser(cookie_header.decode("latin-1")).get(COOKIE_NAME)
    return Credential(token, "cookie") if token else None


class Authenticator:
    def __init__(
        self,
        *,
        tokens: TokenService,
        revocations: Revocations,
        sessions: Sessions,
        users: Users,
        api_keys: ApiKeys,
        api_keys_enabled: bool,
        allowed_endpoints: tuple[str, ...] | None,
        limiter: Limiter,
        user_limit: RateLimit,
        key_limit: RateLimit,
        key_failure_limit: RateLimit,
        shared: SharedRedis | None = None,
    ) -> None:
        self.tokens = tokens
        self.revocations = revocations
        self.sessions = sessions
        self.users = users
        self.api_keys = api_keys
        self.api_keys_enabled = api_keys_enabled
        # None: no server-wide restriction on where API keys may be used.
        self.allowed_endpoints = allowed_endpoints
        self.limiter = limiter
        self.user_limit = user_limit
        self.key_limit = key_limit
        # Refused API keys per client address, looked at before a key is looked up.
        self.key_failure_limit = key_failure_limit
        self.shared = shared
        # The runtime settings read again (set by Services): from the database when it is
        # read anyway (switching API keys drops every cached key, so each process comes
        # there next), and before refusing a key because they are off.
        self.settings_from_database: Callable[[], Awaitable[None]] | None = None
        self.settings_refresh: Callable[[], Awaitable[None]] | None = None

    async def authenticate(
        self,
        credential: Credential,
        raw_path: str,
        scope: Scope | None = None,
        route: RouteLimit | None = None,
    ) -> Principal:
        """The caller, once every check passed; with ``route``, one hit of that limit
        counted too (its standing in ``Principal.route_limit``)."""
        if credential.via == "bearer" and looks_like_api_key(credential.value):
            return await self._api_key(credential.value, raw_path, scope, route)
        try:
            claims = self.tokens.verify(credential.value)
        except InvalidToken:
            raise NotAuthenticated(
                "The session is invalid or has expired.", code="token_invalid"
            ) from None
        limits = [(self.user_limit, f"user:{claims.sub}")]
        routed = _route_items(route, f"user:{claims.sub}")
        counted: Acquired | None = None  # the route's hit, when Redis counted it
        now = self.limiter.clock()
        user: UserRecord | None
        if self.shared is not None:
            # One round trip: token or session revoked?, the account's token version, the
            # session's last activity, the caller's limit and the route's.
            strategy = self.limiter.strategy
            windows, route_windows = strategy.windows(limits), strategy.windows(routed)
            activity = self.sessions.redis_activity()
            check = await self.shared.run(
                lambda redis: redis.check_token(
                    claims.jti, claims.sid, claims.sub, windows, now, activity, route_windows
                )
            )
            if check is not None:
                self.limiter.decide(
                    "api", limits, check.acquired, now, scope=scope, user_id=claims.sub
                )
                counted = check.route
                if check.seeded:
                    _saw_settings(scope, check.settings_version)
                    if check.revoked:
                        raise NotAuthenticated("The session has ended.", code="token_revoked")
                    await self.sessions.check_shared(
                        claims, check.last_active, check.write_activity, scope
                    )
                    user = await self._current_user(claims.sub, check.version)
                    principal = self._session(user, credential, claims)
                    return await self._routed(principal, route, routed, counted, now, scope)
                # Redis lost its state: the database answers until it is seeded again.
                self.shared.reseed_soon()
            else:
                await self.limiter.hit("api", limits, scope=scope, user_id=claims.sub)
        else:
            await self.limiter.hit("api", limits, scope=scope, user_id=claims.sub)
        if await self.revocations.is_revoked(claims.jti, claims.sid):
            raise NotAuthenticated("The session has ended.", code="token_revoked")
        await self.sessions.check_local(claims, scope)
        user = await self.users.get(claims.sub)
        principal = self._session(user, credential, claims)
        return await self._routed(principal, route, routed, counted, now, scope)

    async def limit_route(
        self, principal: Principal, route: RouteLimit, scope: Scope | None = None
    ) -> Principal:
        """One hit of ``route`` for a caller authenticated already (429 when it is full)."""
        who = f"key:{principal.api_key_id}" if principal.api_key_id else f"user:{principal.user.id}"
        items = _route_items(route, who)
        return await self._routed(principal, route, items, None, self.limiter.clock(), scope)

    async def _routed(
        self,
        principal: Principal,
        route: RouteLimit | None,
        items: list[tuple[RateLimit, str]],
        counted: Acquired | None,
        now: float,
        scope: Scope | None,
    ) -> Principal:
        """``principal`` with its standing on the route's limit: as Redis counted it with
        the authentication, else counted now."""
        if route is None:
            return principal
        who = {"user_id": principal.user.id, "api_key_id": principal.api_key_id}
        if counted is None:
            decision = await self.limiter.hit(route.name, items, scope=scope, **who)
        else:
            decision = self.limiter.decide(route.name, items, counted, now, scope=scope, **who)
        return replace(principal, route_limit=decision)

    async def _current_user(self, user_id: str, version: int | None) -> UserRecord | None:
        if version is not None:
            return await self.users.get_current(user_id, version)
        # Redis does not know the version yet: read it from the database and publish it.
        user = await self.users.get(user_id)
        if user is not None and self.shared is not None:
            known = user.token_version
            await self.shared.run(lambda redis: redis.raise_version(user_id, known))
        return user

    @staticmethod
    def _session(user: UserRecord | None, credential: Credential, claims: TokenClaims) -> Principal:
        if user is None or not user.is_active or user.token_version != claims.version:
            # Deleted, disabled, or every token revoked (password or role changed) since.
            raise NotAuthenticated("The session has ended.", code="token_revoked")
        return Principal(user=user, via=credential.via, token=claims)

    async def _api_key(
        self, key: str, raw_path: str, scope: Scope | None, route: RouteLimit | None
    ) -> Principal:
        if not self.api_keys_enabled and self.settings_refresh is not None:
            await self.settings_refresh()  # switched on again elsewhere?
        if not self.api_keys_enabled:
            raise ApiKeysDisabled
        if len(key) > MAX_KEY_LENGTH:
            raise ApiKeyRefused
        key_hash = hash_key(key)
        cached = self.api_keys.cached(key_hash)
        live = cached or await self._look_up(key_hash, scope)
        record = live.record
        limits = [(self.user_limit, f"user:{record.user_id}"), (self.key_limit, f"key:{record.id}")]
        routed = _route_items(route, f"key:{record.id}")
        who = {"user_id": record.user_id, "api_key_id": record.id}
        counted: Acquired | None = None  # the route's hit, when Redis counted it
        now = self.limiter.clock()
        user: UserRecord | None
        if self.shared is not None:
            held = cached is not None
            live, user, counted = await self._vouched(
                self.shared, key_hash, live, held, limits, routed, now, scope, who
            )
        else:
            # Alone on the database (every change reaches the cache) or no cache at all.
            await self.limiter.hit("api_key", limits, scope=scope, **who)
            user = await self.users.get(record.user_id)
        if not self.api_keys.in_force(key_hash, live):
            raise ApiKeyRefused
        self._check_scope(live, raw_path)
        if user is None or not user.is_active:
            raise NotAuthenticated("The API key's account is disabled.", code="api_key_invalid")
        self.api_keys.used(record.id)
        principal = Principal(user=user, via="api_key", api_key_id=record.id)
        return await self._routed(principal, route, routed, counted, now, scope)

    async def _vouched(
        self,
        shared: SharedRedis,
        key_hash: str,
        live: LiveKey,
        held: bool,
        limits: list[tuple[RateLimit, str]],
        routed: list[tuple[RateLimit, str]],
        now: float,
        scope: Scope | None,
        who: dict[str, str],
    ) -> tuple[LiveKey, UserRecord | None, Acquired | None]:
        """The key and its owner as Redis vouches for them, else from the database, and
        the route's hit when Redis counted it.

        ``held``: ``live`` is this process's cached copy, current only under the
        generation it was read under.
        """
        user_id = live.record.user_id
        # One round trip: the key's generation, the owner's token version, the limits.
        strategy = self.limiter.strategy
        windows, route_windows = strategy.windows(limits), strategy.windows(routed)
        check = await shared.run(
            lambda redis: redis.check_api_key(key_hash, user_id, windows, now, route_windows)
        )
        counted = None
        if check is None:
            await self.limiter.hit("api_key", limits, scope=scope, **who)
        else:
            self.limiter.decide("api_key", limits, check.acquired, now, scope=scope, **who)
            counted = check.route
            if check.seeded:
                _saw_settings(scope, check.settings_version)
                if held and live.generation != check.generation:
                    # Changed since it was cached, or never vouched for: read it again.
                    live = await self._reload(key_hash, check.generation)
                return live, await self._current_user(user_id, check.version), counted
            # Redis lost its state: the database answers until it is seeded again.
            shared.reseed_soon()
        if held:  # without Redis's word, a cached copy may be stale
            live = await self._reload(key_hash, None)
        return live, await self.users.get(user_id), counted

    async def _look_up(self, key_hash: str, scope: Scope | None) -> LiveKey:
        """A key this process does not hold, from the database, if the address may ask."""
        client = scope.get("client") if scope is not None else None
        address = str(client[0]) if client else "unknown"
        failures = [(self.key_failure_limit, f"api_key_failures:{address}")]
        # Looked at before the database: a flood of made-up keys from one address is
        # refused here, and costs neither database nor cache what valid callers need.
        await self.limiter.look("api_key_failures", failures, scope=scope)
        await self._settings_again()
        live = await self.api_keys.load(key_hash)
        if live is None:
            await self.limiter.strategy.hit(failures, self.limiter.clock())
            raise ApiKeyRefused
        return live

    async def _settings_again(self) -> None:
        if self.settings_from_database is not None:
            await self.settings_from_database()
            if not self.api_keys_enabled:
                raise ApiKeysDisabled

    async def _reload(self, key_hash: str, generation: bytes | None) -> LiveKey:
        await self._settings_again()
        live = await self.api_keys.load(key_hash, generation)
        if live is None:
            raise ApiKeyRefused
        return live

    def _check_scope(self, live: LiveKey, raw_path: str) -> None:
        if self.allowed_endpoints is not None and not path_allowed(
            raw_path, self.allowed_endpoints
        ):
            raise ApiKeyOutOfScope
        if live.record.scopes and not path_allowed(raw_path, live.record.scopes):
            raise ApiKeyOutOfScope


def _route_items(route: RouteLimit | None, who: str) -> list[tuple[RateLimit, str]]:
    return [] if route is None else [(route.limit, f"{route.name}:{who}")]


def _saw_settings(scope: Scope | None, version: int) -> None:
    if scope is not None:
        scope[SETTINGS_VERSION_SEEN] = version
