"""What the gateway tests share: fake upstreams, a served Bastion, accounts with grants."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion.app import create_app
from bastion.audit.events import MemorySink
from bastion.auth.passwords import PasswordHasher
from bastion.config import load_settings
from bastion.services import Services
from tests.fake_upstreams import FakeUpstream, serve
from tests.support import PASSWORD

UPSTREAM_KEY = "sk-upstream-secret-0123456789abcdef"


@dataclass
class Running:
    fake: FakeUpstream
    base_url: str


@pytest.fixture
def openai_fake() -> Iterator[Running]:
    fake = FakeUpstream("openai")
    with serve(fake) as url:
        yield Running(fake, f"{url}/v1")


@pytest.fixture
def ollama_fake() -> Iterator[Running]:
    fake = FakeUpstream("ollama")
    with serve(fake) as url:
        yield Running(fake, url)


def gateway_env(openai: Running | None, ollama: Running | None, **extra: str) -> dict[str, str]:
    env = {
        "DEFAULT_USER_ROLE": "user",
        "ENABLE_API_KEYS": "true",
        # Programs call the gateway with a plain user's key: that user may make one.
        "USER_PERMISSIONS_FEATURES_API_KEYS": "true",
        "MODEL_UPSTREAM_READ_TIMEOUT": "5s",
        "MODEL_UPSTREAM_MAX_RESPONSE_SIZE": "256KiB",
    }
    if openai is not None:
        env |= {"OPENAI_API_BASE_URLS": openai.base_url, "OPENAI_API_KEYS": UPSTREAM_KEY}
    if ollama is not None:
        env["OLLAMA_BASE_URLS"] = ollama.base_url
    return env | extra


@pytest.fixture
def env(openai_fake: Running, ollama_fake: Running) -> dict[str, str]:
    return gateway_env(openai_fake, ollama_fake)


@dataclass
class ServedBastion:
    url: str
    services: Services
    sink: MemorySink


@pytest.fixture
def served_bastion(
    tmp_path: Path, cheap_hasher: PasswordHasher
) -> Iterator[Callable[..., ServedBastion]]:
    """Bastion under uvicorn on a free port: real HTTP, for clients and disconnects."""
    with ExitStack() as stack:

        def start(env: dict[str, str], **kwargs: Any) -> ServedBastion:
            settings = load_settings({"DATA_DIR": str(tmp_path / "data"), **env})
            services = Services.build(settings, hasher=cheap_hasher, **kwargs)
            sink = MemorySink()
            services.events.add_sink(sink)
            url = stack.enter_context(serve(create_app(settings, services=services), lifespan="on"))
            return ServedBastion(url, services, sink)

        yield start


@dataclass
class Account:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(client: httpx.Client, email: str) -> Account:
    response = client.post(
        "/api/v1/auths/signup", json={"name": "Someone", "email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Account(response.json()["id"], response.json()["token"])


def grant(client: httpx.Client, admin: Account, model: str, **access: list[str]) -> None:
    response = client.post(f"/api/v1/models/{model}/access", json=access, headers=admin.auth)
    assert response.status_code == 200, response.text


def api_key(client: httpx.Client, account: Account) -> str:
    response = client.post("/api/v1/auths/api_key", json={}, headers=account.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["key"])
