"""``private_key_jwt``: with a client key configured, Bastion proves itself to the
provider's token endpoint with a signed, single-use assertion, and sends no secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from bastion.audit.events import MemorySink
from tests.integration.oidc.conftest import refused_reasons, sso
from tests.oidc_provider import AUTH_METHODS, CLIENT_ASSERTION_TYPE, CLIENT_ID, ProviderHandle
from tests.support import Clock


def _key_file(tmp_path: Path, kind: str, name: str = "client") -> tuple[Path, RSAKey | ECKey]:
    """A fresh private key in PEM, and the key the provider registers (its public half)."""
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / f"{name}-{kind}.pem"
    path.write_bytes(pem)
    return path, (RSAKey if kind == "rsa" else ECKey).import_key(pem)


def _register(provider: ProviderHandle, key: RSAKey | ECKey, kid: str | None) -> None:
    public = key.as_dict(private=False)
    if kid is not None:
        public["kid"] = kid
    provider.control("client-keys", {"keys": [public]})


def _token_requests(provider: ProviderHandle) -> list[dict]:
    return [seen for seen in provider.seen() if seen["endpoint"] == "token"]


def _account(provider: ProviderHandle) -> str:
    username = f"key-{secrets.token_hex(4)}"
    provider.accounts(**{username: {"sub": f"sub-{username}", "email": f"{username}@ex.com"}})
    return username


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("ec", "ES256")])
async def test_sign_in_with_a_client_key_sends_an_assertion_and_no_secret(
    start_sso, provider: ProviderHandle, tmp_path: Path, kind: str, algorithm: str
) -> None:
    path, key = _key_file(tmp_path, kind)
    kid = f"bastion-{kind}"
    _register(provider, key, kid)
    # The secret is configured too: the key wins, and the secret never leaves.
    bastion = await start_sso(
        OAUTH_CLIENT_PRIVATE_KEY_FILE=str(path), OAUTH_CLIENT_PRIVATE_KEY_ID=kid
    )
    before = len(_token_requests(provider))
    first = await sso(bastion, _account(provider))
    assert first.answer.status_code == 302 and first.answer.headers["location"] == "/"
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 200
    second = await sso(bastion, _account(provider))
    assert second.answer.headers["location"] == "/"

    requests = _token_requests(provider)[before:]
    assert len(requests) == 2
    jtis = []
    for request in requests:
        form = request["form"]
        assert request["authorization"] is None and "client_secret" not in form
        assert form["client_id"] == CLIENT_ID
        assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        token = jwt.decode(form["client_assertion"], key, algorithms=[algorithm])
        assert token.header["alg"] == algorithm and token.header["kid"] == kid
        claims = token.claims
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["aud"] == f"{provider.issuer}/token"
        assert 0 < claims["exp"] - claims["iat"] <= 60
        jtis.append(claims["jti"])
    assert len(set(jtis)) == 2  # a fresh assertion for every request


async def test_a_key_the_provider_does_not_hold_is_refused_there(
    start_sso, provider: ProviderHandle, tmp_path: Path, sink: MemorySink
) -> None:
    path, _ = _key_file(tmp_path, "rsa")
    _, registered = _key_file(tmp_path, "rsa", name="another")
    _register(provider, registered, None)
    bastion = await start_sso(OAUTH_CLIENT_PRIVATE_KEY_FILE=str(path))
    flow = await sso(bastion, _account(provider))
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["token_endpoint_refused"]
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 401


async def test_a_provider_that_does_not_offer_private_key_jwt_gets_no_secret_instead(
    start_sso, provider: ProviderHandle, tmp_path: Path, sink: MemorySink
) -> None:
    path, key = _key_file(tmp_path, "ec")
    _register(provider, key, None)
    provider.control("auth-methods", {"methods": ["client_secret_basic"]})
    try:
        bastion = await start_sso(OAUTH_CLIENT_PRIVATE_KEY_FILE=str(path))
        before = len(_token_requests(provider))
        flow = await sso(bastion, _account(provider))
    finally:
        provider.control("auth-methods", {"methods": AUTH_METHODS})
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["private_key_jwt_not_offered"]
    # Bastion did not fall back to the secret: the token endpoint was never called.
    assert len(_token_requests(provider)) == before


async def test_the_server_side_refresh_proves_itself_with_the_key_too(
    start_sso, provider: ProviderHandle, tmp_path: Path, clock: Clock
) -> None:
    path, key = _key_file(tmp_path, "rsa")
    _register(provider, key, None)
    bastion = await start_sso(OAUTH_CLIENT_PRIVATE_KEY_FILE=str(path), OAUTH_CLIENT_SECRET="")
    assert (await sso(bastion, _account(provider))).answer.headers["location"] == "/"
    oidc = bastion.services.oidc
    assert oidc is not None
    jti = bastion.services.tokens.verify(bastion.client.cookies["token"]).jti
    clock.advance(290)  # within a minute of the provider access token's expiry
    refreshed = await oidc.access_token(jti)
    latest = [s["tokens"] for s in provider.seen() if s["endpoint"] == "issued"][-1]
    assert refreshed == latest["access_token"]
    request = _token_requests(provider)[-1]
    assert request["form"]["grant_type"] == "refresh_token"
    assert request["authorization"] is None
    assertion = jwt.decode(request["form"]["client_assertion"], key, algorithms=["RS256"])
    assert assertion.claims["sub"] == CLIENT_ID
