"""An app on a fresh SQLite database, driven in-process through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from bastion.app import create_app, prepare
from bastion.auth.passwords import PasswordHasher
from bastion.config import Settings, load_settings
from bastion.services import Services
from tests.support import Bastion

StartBastion = Callable[..., Awaitable[Bastion]]


@pytest.fixture
def cheap_hasher() -> PasswordHasher:
    # The default argon2 parameters cost ~50 ms a hash; the tests hash hundreds of times.
    return PasswordHasher(time_cost=1, memory_cost=1024)


@pytest.fixture
async def start_bastion(
    tmp_path: Path, cheap_hasher: PasswordHasher
) -> AsyncIterator[StartBastion]:
    """Start an instance; calling it again on the same DATA_DIR is a restart."""
    running: list[Bastion] = []

    async def start(env: dict[str, str] | None = None, **kwargs: object) -> Bastion:
        environ = {"DATA_DIR": str(tmp_path / "data"), **(env or {})}
        settings = load_settings(environ)
        services = Services.build(settings, hasher=cheap_hasher, **kwargs)  # type: ignore[arg-type]
        await prepare(services)
        app = create_app(settings, services=services)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        instance = Bastion(settings, services, client)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        await instance.client.aclose()
        await instance.services.db.dispose()


@pytest.fixture
async def bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion()
