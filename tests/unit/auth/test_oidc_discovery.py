"""What Bastion takes from a provider's discovery document: only asymmetric algorithms."""

from __future__ import annotations

import pytest

from bastion.auth.oidc.provider import OidcUnavailable, _parse_discovery

BASE = {
    "issuer": "https://idp.example.com",
    "authorization_endpoint": "https://idp.example.com/auth",
    "token_endpoint": "https://idp.example.com/token",
    "jwks_uri": "https://idp.example.com/jwks",
}


def test_none_and_hmac_are_dropped_from_the_providers_algorithms() -> None:
    offered = ["none", "HS256", "RS256", "HS512", "ES256"]
    discovery = _parse_discovery({**BASE, "id_token_signing_alg_values_supported": offered})
    assert discovery.algorithms == ("RS256", "ES256")
    assert discovery.end_session_endpoint is None


def test_a_provider_offering_only_none_or_hmac_is_unusable() -> None:
    with pytest.raises(OidcUnavailable):
        _parse_discovery({**BASE, "id_token_signing_alg_values_supported": ["none", "HS256"]})


def test_a_document_without_its_endpoints_is_unusable() -> None:
    with pytest.raises(OidcUnavailable):
        _parse_discovery({"issuer": "https://idp.example.com"})
