"""The OpenID provider as Bastion sees it: its discovery document, its signing keys, its
token endpoint, and the checks every token it signs must pass.

Every request goes through the safe outbound client; the provider's own origin is the
only private address it may reach (an admin named it). The algorithms accepted are the
provider's own list narrowed to asymmetric ones: ``none`` would accept an unsigned
token, and an HMAC one would let anyone who knows the client secret (every client of a
public client registration) forge an ID token.
See https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation and
https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import quote, urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from bastion.config.oauth import DISCOVERY_PATH, ClientKey, OAuthSettings
from bastion.errors import BastionError
from bastion.outbound import AddressPolicy, OutboundClient, OutboundTimeouts

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# A token's clocks may differ from ours by this much.
LEEWAY_S = 60
# An unknown key id fetches the keys again, at most this often (a forged kid is free).
JWKS_REFRESH_S = 60.0
MAX_TOKEN_LENGTH = 16_384
# RFC 7523's client assertion (OpenID Connect's private_key_jwt) and how long one lives.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ASSERTION_LIFETIME_S = 60


class OidcRefused(BastionError):
    """The provider or what it sent cannot be trusted; ``reason`` says which check failed."""

    status_code = 400
    code = "oauth_refused"
    detail = "Single sign-on failed. Try again."

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class OidcUnavailable(BastionError):
    status_code = 502
    code = "oauth_provider_unavailable"
    detail = "The identity provider could not be reached or gave an invalid answer."


@dataclass(frozen=True, slots=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TokenSet:
    id_token: str
    access_token: str | None
    refresh_token: str | None
    expires_at: int | None  # of the access token, epoch seconds

    def dump(self) -> str:
        return json.dumps(
            {
                "id_token": self.id_token,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
            }
        )

    @classmethod
    def load(cls, text: str) -> TokenSet:
        data = json.loads(text)
        return cls(
            id_token=data["id_token"],
            access_token=data.get("access_token"),
            refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
        )


class Provider:
    def __init__(
        self,
        settings: OAuthSettings,
        *,
        client: OutboundClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert settings.openid_provider_url is not None and settings.oauth_client_id is not None
        self.discovery_url = settings.openid_provider_url
        self.client_id = settings.oauth_client_id
        self._secret = settings.oauth_client_secret
        key = settings.oauth_client_private_key
        self._client_key = None if key is None else (key, _imported(key))
        self.scopes = settings.oauth_scopes
        self.redirect_uri = settings.openid_redirect_uri or ""
        self._client = client or OutboundClient(
            AddressPolicy.for_urls([self.discovery_url]),
            timeouts=OutboundTimeouts(connect=5.0, read=10.0, write=10.0, pool=5.0, total=15.0),
            max_response_bytes=1024 * 1024,
        )
        self._clock = clock
        self._discovery: Discovery | None = None
        self._keys: KeySet | None = None
        self._keys_fetched_at = float("-inf")

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- discovery and keys -------------------------------------------------------------

    async def discovery(self) -> Discovery:
        if self._discovery is None:
            self._discovery = _parse_discovery(await self._get_json(self.discovery_url))
            expected = self.discovery_url[: -len(DISCOVERY_PATH)]
            if self._discovery.issuer.rstrip("/") != expected.rstrip("/"):
                # A document naming another issuer is not this provider's (OIDC Discovery 4.3).
                self._discovery = None
                raise OidcUnavailable
        return self._discovery

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._client.request("GET", url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise OidcUnavailable
        try:
            data = response.json()
        except ValueError:
            raise OidcUnavailable from None
        if not isinstance(data, dict):
            raise OidcUnavailable
        return data

    async def _key_set(self, kid: str | None) -> KeySet:
        now = self._clock()
        known = self._keys is not None and (kid is None or _has_kid(self._keys, kid))
        if not known and now - self._keys_fetched_at >= JWKS_REFRESH_S:
            discovery = await self.discovery()
            self._keys_fetched_at = now
            try:
                self._keys = KeySet.import_key_set(await self._get_json(discovery.jwks_uri))  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise OidcUnavailable from None
        if self._keys is None:
            raise OidcUnavailable
        return self._keys

    # --- the authorization code ---------------------------------------------------------

    async def authorization_url(self, state: str, nonce: str, code_challenge: str) -> str:
        discovery = await self.discovery()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in discovery.authorization_endpoint else "?"
        return f"{discovery.authorization_endpoint}{separator}{query}"

    async def exchange(self, code: str, code_verifier: str) -> TokenSet:
        return await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": code_verifier,
            },
            refresh=False,
        )

    async def refresh(self, refresh_token: str, id_token: str) -> TokenSet:
        refreshed = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, refresh=True
        )
        return TokenSet(
            id_token=refreshed.id_token or id_token,
            access_token=refreshed.access_token,
            refresh_token=refreshed.refresh_token or refresh_token,
            expires_at=refreshed.expires_at,
        )

    async def _token_request(self, form: dict[str, str], *, refresh: bool) -> TokenSet:
        discovery = await self.discovery()
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        form = {**form}
        if self._client_key is not None:  # the key wins over a secret
            if "private_key_jwt" not in discovery.token_auth_methods:
                raise OidcRefused("private_key_jwt_not_offered")
            form["client_id"] = self.client_id
            form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
            form["client_assertion"] = self._client_assertion(
                *self._client_key, discovery.token_endpoint
            )
        elif self._secret is None:
            form["client_id"] = self.client_id
        elif "client_secret_basic" in discovery.token_auth_methods:
            pair = f"{_form_quote(self.client_id)}:{_form_quote(self._secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self._secret
        response = await self._client.request(
            "POST", discovery.token_endpoint, headers=headers, content=urlencode(form).encode()
        )
        if response.status_code != 200:
            raise OidcRefused("token_endpoint_refused")
        try:
            data = response.json()
        except ValueError:
            raise OidcUnavailable from None
        id_token = data.get("id_token") if isinstance(data, dict) else None
        if not isinstance(data, dict) or (not refresh and not isinstance(id_token, str)):
            raise OidcRefused("no_id_token")
        expires_in = data.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int) and not isinstance(expires_in, bool):
            expires_at = int(self._clock()) + expires_in
        return TokenSet(
            id_token=id_token if isinstance(id_token, str) else "",
            access_token=_text(data.get("access_token")),
            refresh_token=_text(data.get("refresh_token")),
            expires_at=expires_at,
        )

    def _client_assertion(self, key: ClientKey, signing: RSAKey | ECKey, audience: str) -> str:
        """A signed, single-use proof that this is the client (OpenID Connect Core 9)."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "jti": secrets.token_urlsafe(24),
            "iat": now,
            "exp": now + CLIENT_ASSERTION_LIFETIME_S,
        }
        header = {"alg": key.algorithm, "typ": "JWT"}
        if key.kid is not None:
            header["kid"] = key.kid
        return jwt.encode(header, claims, signing, algorithms=[key.algorithm])

    # --- what the provider signs --------------------------------------------------------

    async def _verified(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once its signature checks out with the provider's keys."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise OidcRefused("malformed_token")
        header = _header(token)
        discovery = await self.discovery()
        alg = header.get("alg")
        if alg not in discovery.algorithms:
            raise OidcRefused("algorithm_refused")
        if {"jku", "x5u", "jwk"} & header.keys():
            raise OidcRefused("key_in_header")  # the header must never choose the key
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OidcRefused("malformed_token")
        keys = await self._key_set(kid)
        if kid is not None and not _has_kid(keys, kid):
            raise OidcRefused("unknown_key")
        try:
            decoded = jwt.decode(token, keys, algorithms=list(discovery.algorithms))
        except (JoseError, ValueError, KeyError, TypeError):
            raise OidcRefused("bad_signature") from None
        claims = dict(decoded.claims)
        if not hmac.compare_digest(str(claims.get("iss", "")), discovery.issuer):
            raise OidcRefused("wrong_issuer")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self.client_id not in audiences:
            raise OidcRefused("wrong_audience")
        iat = claims.get("iat")
        if not _is_int(iat) or iat > self._clock() + LEEWAY_S:
            raise OidcRefused("bad_issued_at")
        exp = claims.get("exp")
        if exp is not None and (not _is_int(exp) or exp + LEEWAY_S <= self._clock()):
            raise OidcRefused("expired")
        return claims

    async def validate_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        claims = await self._verified(token)
        if not _is_int(claims.get("exp")):
            raise OidcRefused("expired")
        audience = claims.get("aud")
        azp = claims.get("azp")
        if isinstance(audience, list) and len(audience) > 1 and azp is None:
            raise OidcRefused("wrong_authorized_party")
        if azp is not None and azp != self.client_id:
            raise OidcRefused("wrong_authorized_party")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcRefused("wrong_nonce")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise OidcRefused("no_subject")
        return claims

    async def validate_logout_token(self, token: str) -> dict[str, Any]:
        claims = await self._verified(token)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise OidcRefused("no_logout_event")
        if "nonce" in claims:
            # A nonce marks an ID token: one must never pass for a logout token.
            raise OidcRefused("nonce_in_logout_token")
        sid, subject = claims.get("sid"), claims.get("sub")
        if not isinstance(sid, str) and not isinstance(subject, str):
            raise OidcRefused("no_session_or_subject")
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise OidcRefused("no_jti")
        return claims

    async def end_session_url(self, id_token: str, post_logout_redirect_uri: str) -> str | None:
        discovery = await self.discovery()
        if discovery.end_session_endpoint is None:
            return None
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": self.client_id,
            }
        )
        separator = "&" if "?" in discovery.end_session_endpoint else "?"
        return f"{discovery.end_session_endpoint}{separator}{query}"


def _parse_discovery(data: Mapping[str, Any]) -> Discovery:
    try:
        issuer = data["issuer"]
        endpoints = [data["authorization_endpoint"], data["token_endpoint"], data["jwks_uri"]]
    except KeyError:
        raise OidcUnavailable from None
    if not isinstance(issuer, str) or not all(isinstance(url, str) for url in endpoints):
        raise OidcUnavailable
    offered = data.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(alg for alg in offered if alg in ASYMMETRIC_ALGORITHMS)
    if not algorithms:
        raise OidcUnavailable  # only none or HMAC on offer: nothing Bastion may accept
    methods = data.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    end_session = data.get("end_session_endpoint")
    return Discovery(
        issuer=issuer,
        authorization_endpoint=endpoints[0],
        token_endpoint=endpoints[1],
        jwks_uri=endpoints[2],
        end_session_endpoint=end_session if isinstance(end_session, str) else None,
        algorithms=algorithms,
        token_auth_methods=tuple(m for m in methods if isinstance(m, str)),
    )


def _imported(key: ClientKey) -> RSAKey | ECKey:
    return (RSAKey if key.algorithm == "RS256" else ECKey).import_key(key.pem)


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeError):
        raise OidcRefused("malformed_token") from None
    if not isinstance(header, dict):
        raise OidcRefused("malformed_token")
    return header


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def _form_quote(value: str) -> str:
    return quote(value, safe="")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
