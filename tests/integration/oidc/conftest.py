"""A real OpenID provider in its own process (``tests/oidc_provider.py``), and Bastion
instances configured with it, signing in the way a browser does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from bastion.audit.events import MemorySink
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ProviderHandle, start_provider
from tests.support import Bastion, Clock

CALLBACK = "http://testserver/oauth/oidc/callback"


@pytest.fixture(scope="session")
def provider() -> Iterator[ProviderHandle]:
    with start_provider([CALLBACK]) as handle:
        yield handle


def oidc_env(provider: ProviderHandle, **extra: str) -> dict[str, str]:
    return {
        "OPENID_PROVIDER_URL": provider.issuer,
        "OAUTH_CLIENT_ID": CLIENT_ID,
        "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTH_PROVIDER_NAME": "Test IdP",
        "WEBUI_URL": "http://testserver",
        "ENABLE_OAUTH_SIGNUP": "true",
        "DEFAULT_USER_ROLE": "user",
        "ENABLE_OAUTH_BACKCHANNEL_LOGOUT": "true",
        **extra,
    }


@pytest.fixture
def start_sso(start_bastion, provider: ProviderHandle, clock: Clock, sink: MemorySink):
    async def start(**extra: str) -> Bastion:
        return await start_bastion(oidc_env(provider, **extra), clock=clock, sinks=[sink])

    return start


@dataclass
class Flow:
    """One trip to the provider: where it sent the browser back, and what came of it."""

    callback: str  # path and query of the callback the provider redirected to
    answer: httpx.Response  # Bastion's answer to it

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.callback).query))


async def to_provider(bastion: Bastion, username: str) -> str:
    """Start a sign-in and pass the provider's form; the callback path it redirects to."""
    started = await bastion.client.get("/oauth/oidc/login")
    assert started.status_code == 302, started.text
    location = started.headers["location"]
    params = dict(parse_qsl(urlsplit(location).query))
    async with httpx.AsyncClient() as browser:
        form = await browser.get(location)
        assert form.status_code == 200 and 'name="username"' in form.text
        sent = await browser.post(location.split("?")[0], data={**params, "username": username})
    assert sent.status_code == 302, sent.text
    back = urlsplit(sent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return f"{back.path}?{back.query}"


async def sso(bastion: Bastion, username: str) -> Flow:
    callback = await to_provider(bastion, username)
    return Flow(callback, await bastion.client.get(callback))


def refused_reasons(sink: MemorySink) -> list[str]:
    return [event.details["reason"] for event in sink.of_type("oauth.refused")]
