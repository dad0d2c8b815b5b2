"""A provider that answers nonsense: its discovery document or keys are refused, never
half-used, and every sign-in through it is turned back with the provider unavailable."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bastion.auth.oidc.provider import OidcUnavailable, Provider
from bastion.config import load_settings
from tests.fake_upstreams import serve

Answer = Callable[[str], Response]


def _discovery(base: str, **changes: object) -> dict[str, object]:
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "id_token_signing_alg_values_supported": ["RS256"],
        **changes,
    }


def _provider_app(discovery: Answer, jwks: Answer) -> Starlette:
    async def document(request: Request) -> Response:
        return discovery(str(request.base_url).rstrip("/"))

    async def keys(request: Request) -> Response:
        return jwks(str(request.base_url).rstrip("/"))

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", document),
            Route("/jwks", keys),
        ]
    )


def _provider(base: str, data_dir: Path) -> Provider:
    settings = load_settings(
        {
            "DATA_DIR": str(data_dir),
            "OPENID_PROVIDER_URL": base,
            "OAUTH_CLIENT_ID": "bastion",
            "WEBUI_URL": "http://testserver",
        }
    )
    return Provider(settings.oauth)


GOOD_KEYS: Answer = lambda _: JSONResponse({"keys": []})  # noqa: E731

BROKEN_DISCOVERY: dict[str, Answer] = {
    "an error status": lambda base: JSONResponse(_discovery(base), status_code=500),
    "not JSON": lambda _: PlainTextResponse("<html>maintenance</html>"),
    "a JSON list": lambda base: JSONResponse([_discovery(base)]),
    "another issuer": lambda base: JSONResponse(_discovery(base, issuer="https://evil.example")),
}


@pytest.mark.parametrize("answer", BROKEN_DISCOVERY.values(), ids=BROKEN_DISCOVERY.keys())
async def test_a_broken_discovery_document_is_refused_and_not_kept(
    answer: Answer, tmp_path: Path
) -> None:
    calls = []

    def counted(base: str) -> Response:
        calls.append(base)
        return answer(base)

    with serve(_provider_app(counted, GOOD_KEYS)) as base:
        provider = _provider(base, tmp_path)
        try:
            for _ in range(2):
                with pytest.raises(OidcUnavailable):
                    await provider.discovery()
        finally:
            await provider.aclose()
    assert len(calls) == 2  # asked again: a refused document is not remembered


BROKEN_KEYS: dict[str, Answer] = {
    "an error status": lambda _: JSONResponse({"keys": []}, status_code=503),
    "not a key set": lambda _: JSONResponse({"keys": [{"kty": "nonsense"}]}),
}


@pytest.mark.parametrize("answer", BROKEN_KEYS.values(), ids=BROKEN_KEYS.keys())
async def test_broken_keys_make_every_token_unverifiable(answer: Answer, tmp_path: Path) -> None:
    def good_discovery(base: str) -> Response:
        return JSONResponse(_discovery(base))

    header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k1"}').decode().rstrip("=")
    with serve(_provider_app(good_discovery, answer)) as base:
        provider = _provider(base, tmp_path)
        try:
            with pytest.raises(OidcUnavailable):
                await provider.validate_id_token(f"{header}.e30.c2ln", "nonce")
        finally:
            await provider.aclose()
