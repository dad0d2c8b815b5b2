"""Who is calling: a session token (cookie or bearer) or an ``sk-`` API key.

How a credential travels (cookie or ``Authorization``) is read here; how it is checked
lives with the token service, the revocation list and the API-key store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import cookie_parser

from bastion.auth.api_keys import ApiKeyOutOfScope, ApiKeys, looks_like_api_key, path_allowed
from bastion.auth.revocation import Revocations
from bastion.auth.tokens import InvalidToken, TokenClaims, TokenService
from bastion.errors import BastionError, NotAuthenticated
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
    ) -> None:
        self.tokens = tokens
        self.revocations = revocations
        self.users = users
        self.api_keys = api_keys
        self.api_keys_enabled = api_keys_enabled
        # None: no server-wide restriction on where API keys may be used.
        self.allowed_endpoints = allowed_endpoints

    async def authenticate(self, credential: Credential, raw_path: str) -> Principal:
        if credential.via == "bearer" and looks_like_api_key(credential.value):
            return await self._api_key(credential.value, raw_path)
        try:
            claims = self.tokens.verify(credential.value)
        except InvalidToken:
            raise NotAuthenticated(
                "The session is invalid or has expired.", code="token_invalid"
            ) from None
        if await self.revocations.is_revoked(claims.jti):
            raise NotAuthenticated("The session has ended.", code="token_revoked")
        user = await self.users.get(claims.sub)
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
