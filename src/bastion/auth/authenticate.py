"""Who is calling: a session token (cookie or bearer) or an ``sk-`` API key.

How a credential travels (cookie or ``Authorization``) is read here; how it is checked
lives with the token service, the revocation list and the API-key store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import cookie_parser
from starlette.types import Scope

from bastion.auth.api_keys import ApiKeyOutOfScope, ApiKeys, looks_like_api_key, path_allowed
from bastion.auth.revocation import Revocations
from bastion.auth.tokens import InvalidToken, TokenClaims, TokenService
from bastion.config.reader import RateLimit
from bastion.errors import BastionError, NotAuthenticated
from bastion.ratelimit.limiter import Limiter
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
        users: Users,
        api_keys: ApiKeys,
        api_keys_enabled: bool,
        allowed_endpoints: tuple[str, ...] | None,
        limiter: Limiter,
        user_limit: RateLimit,
        key_limit: RateLimit,
        shared: SharedRedis | None = None,
    ) -> None:
        self.tokens = tokens
        self.revocations = revocations
        self.users = users
        self.api_keys = api_keys
        self.api_keys_enabled = api_keys_enabled
        # None: no server-wide restriction on where API keys may be used.
        self.allowed_endpoints = allowed_endpoints
        self.limiter = limiter
        self.user_limit = user_limit
        self.key_limit = key_limit
        self.shared = shared

    async def authenticate(
        self, credential: Credential, raw_path: str, scope: Scope | None = None
    ) -> Principal:
        if credential.via == "bearer" and looks_like_api_key(credential.value):
            principal = await self._api_key(credential.value, raw_path)
            await self.limiter.hit(
                "api_key",
                [
                    (self.user_limit, f"user:{principal.user.id}"),
                    (self.key_limit, f"key:{principal.api_key_id}"),
                ],
                scope=scope,
                user_id=principal.user.id,
                api_key_id=principal.api_key_id,
            )
            return principal
        try:
            claims = self.tokens.verify(credential.value)
        except InvalidToken:
            raise NotAuthenticated(
                "The session is invalid or has expired.", code="token_invalid"
            ) from None
        limits = [(self.user_limit, f"user:{claims.sub}")]
        user: UserRecord | None
        if self.shared is not None:
            # One round trip: revoked?, the account's token version, the caller's limit.
            now = self.limiter.clock()
            windows = self.limiter.strategy.windows(limits)
            check = await self.shared.run(
                lambda redis: redis.check_token(claims.jti, claims.sub, windows, now)
            )
            if check is not None:
                self.limiter.decide(
                    "api", limits, check.acquired, now, scope=scope, user_id=claims.sub
                )
                if check.seeded:
                    if check.revoked:
                        raise NotAuthenticated("The session has ended.", code="token_revoked")
                    user = await self._current_user(claims.sub, check.version)
                    return self._session(user, credential, claims)
                # Redis lost its state: the database answers until it is seeded again.
                self.shared.reseed_soon()
            else:
                await self.limiter.hit("api", limits, scope=scope, user_id=claims.sub)
        else:
            await self.limiter.hit("api", limits, scope=scope, user_id=claims.sub)
        if await self.revocations.is_revoked(claims.jti):
            raise NotAuthenticated("The session has ended.", code="token_revoked")
        user = await self.users.get(claims.sub)
        return self._session(user, credential, claims)

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

    async def _api_key(self, key: str, raw_path: str) -> Principal:
        if not self.api_keys_enabled:
            raise ApiKeysDisabled
        record = await self.api_keys.authenticate(key)
        if self.allowed_endpoints is not None and not path_allowed(
            raw_path, self.allowed_endpoints
        ):
            raise ApiKeyOutOfScope
        if record.scopes and not path_allowed(raw_path, record.scopes):
            raise ApiKeyOutOfScope
        user = await self.users.get(record.user_id)
        if user is None or not user.is_active:
            raise NotAuthenticated("The API key's account is disabled.", code="api_key_invalid")
        return Principal(user=user, via="api_key", api_key_id=record.id)
