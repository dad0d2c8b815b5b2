"""Signed session tokens (JWT).

Every check that PyJWT offers is on, and the header is inspected before the signature:
the algorithm is pinned (``alg: none`` and algorithm confusion are refused), and
``kid``/``jku``/``x5u``/``jwk`` are refused because a header must never choose the key
(https://datatracker.ietf.org/doc/html/rfc8725#section-3.1). Every failure is the same
opaque :class:`InvalidToken` so that a caller learns nothing from the refusal.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import jwt

ALGORITHM = "HS256"
ISSUER = "bastion"
AUDIENCE = "bastion"
TOKEN_TYPE = "access"  # noqa: S105 (a claim value, not a secret)
# A cookie or header far larger than any token we issue is refused before any parsing.
MAX_TOKEN_LENGTH = 4096
_FORBIDDEN_HEADERS = frozenset({"kid", "jku", "x5u", "x5c", "jwk", "crit"})
# ``sid`` names the session (sign-in) the token belongs to; tokens issued before sessions
# existed have none and are refused: their holders sign in once more.
_REQUIRED_CLAIMS = ["iss", "aud", "typ", "sub", "iat", "jti", "ver", "sid"]
# What PyJWT checks besides the signature; expiry is checked against the injected clock.
_CHECKS: dict[str, Any] = {
    "audience": AUDIENCE,
    "issuer": ISSUER,
    "options": {
        "require": _REQUIRED_CLAIMS,
        "strict_aud": True,
        "verify_exp": False,
        "verify_iat": False,
        "verify_nbf": False,
    },
}
# Verified tokens are remembered (PyJWT's parsing costs ~80 µs a request): the cache maps
# the exact token string to its claims, expiry is re-checked on every hit, and revocation
# is never cached here.
VERIFIED_CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The token cannot be used, whatever the reason."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: str
    jti: str
    version: int
    issued_at: int
    expires_at: int | None
    sid: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: TokenClaims

    @property
    def expires_at(self) -> datetime | None:
        if self.claims.expires_at is None:
            return None
        return datetime.fromtimestamp(self.claims.expires_at, UTC)


class TokenService:
    """Issues tokens with the current key and verifies them with it or a former one."""

    def __init__(
        self,
        secret_key: str,
        *,
        fallback_keys: Sequence[str] = (),
        expires_in: timedelta | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = secret_key
        self._verify_keys = (secret_key, *fallback_keys)
        self.expires_in = expires_in  # changed at run time (JWT_EXPIRES_IN)
        self._clock = clock
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()

    def issue(self, user_id: str, version: int, *, sid: str) -> IssuedToken:
        now = int(self._clock())
        expires_at = None if self.expires_in is None else now + int(self.expires_in.total_seconds())
        claims = TokenClaims(
            sub=user_id,
            jti=secrets.token_hex(16),  # 128 random bits
            version=version,
            issued_at=now,
            expires_at=expires_at,
            sid=sid,
        )
        payload: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": TOKEN_TYPE,
            "sub": user_id,
            "iat": now,
            "jti": claims.jti,
            "ver": version,
            "sid": sid,
        }
        if expires_at is not None:
            payload["exp"] = expires_at
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": "JWT"})
        return IssuedToken(token=token, claims=claims)

    def verify(self, token: str) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires_at is not None and claims.expires_at <= self._clock():
                del self._verified[token]
                raise InvalidToken
            self._verified.move_to_end(token)
            return claims
        claims = self._verify_uncached(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _verify_uncached(self, token: str) -> TokenClaims:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken from None
        if header.get("alg") != ALGORITHM or _FORBIDDEN_HEADERS.intersection(header):
            raise InvalidToken
        payload = self._decode(token)
        sub, jti, version = payload.get("sub"), payload.get("jti"), payload.get("ver")
        iat, exp, sid = payload.get("iat"), payload.get("exp"), payload.get("sid")
        if payload.get("typ") != TOKEN_TYPE or not isinstance(sub, str) or not sub:
            raise InvalidToken
        if not isinstance(jti, str) or len(jti) != 32:
            raise InvalidToken
        if not isinstance(sid, str) or len(sid) != 32:
            raise InvalidToken
        if not _is_int(version) or not _is_int(iat):
            raise InvalidToken
        now = self._clock()
        expires_at: int | None = None
        if exp is not None:
            if not _is_int(exp) or exp <= now:
                raise InvalidToken
            expires_at = exp
        elif self.expires_in is not None:
            # A token without expiry is only ever issued when JWT_EXPIRES_IN=-1.
            raise InvalidToken
        if iat > now + 60:  # issued in the future: not one of ours
            raise InvalidToken
        return TokenClaims(
            sub=sub, jti=jti, version=version, issued_at=iat, expires_at=expires_at, sid=sid
        )

    def _decode(self, token: str) -> dict[str, object]:
        for key in self._verify_keys:
            try:
                return jwt.decode(token, key, algorithms=[ALGORITHM], **_CHECKS)
            except jwt.InvalidSignatureError:
                continue  # perhaps signed with a former key
            except jwt.PyJWTError:
                break
        raise InvalidToken


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
