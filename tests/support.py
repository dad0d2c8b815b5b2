"""What the tests share: running Bastion instances, in-process, on a fresh database.

Loaded as a pytest plugin by ``tests/conftest.py``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from bastion.app import create_app, prepare
from bastion.auth.passwords import PasswordHasher, VerifyResult
from bastion.config import Settings, load_settings
from bastion.services import Services

PASSWORD = "correct horse battery staple"


class Clock:
    """An injected clock that moves only when a test moves it."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingHasher(PasswordHasher):
    """The tests' cheap hasher, counting every password it hashes or checks."""

    def __init__(self) -> None:
        # The default argon2 parameters cost ~50 ms a hash; the tests hash hundreds of times.
        super().__init__(time_cost=1, memory_cost=1024)
        self.calls = 0

    def hash(self, password: str) -> str:
        self.calls += 1
        return super().hash(password)

    def verify(self, password: str, encoded: str) -> VerifyResult:
        self.calls += 1
        return super().verify(password, encoded)

    def dummy_verify(self, password: str) -> None:
        self.calls += 1
        super().dummy_verify(password)


class Bastion:
    """One running instance: its settings, services and an HTTP client."""

    def __init__(
        self, settings: Settings, services: Services, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        self.settings = settings
        self.services = services
        self.client = client
        self.app = app

    async def signup(self, email: str, password: str = PASSWORD, name: str = "Someone") -> dict:
        response = await self.client.post(
            "/api/v1/auths/signup", json={"name": name, "email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def signin(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auths/signin", json={"email": email, "password": password}
        )

    async def me(self, token: str) -> httpx.Response:
        return await self.client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})


async def recover_redis(bastion: Bastion, clock: Clock) -> None:
    """Let the retry interval pass, use Redis once (that starts the probe), wait for it."""
    clock.advance(6)
    shared = bastion.services.shared
    assert shared is not None
    assert await shared.run(lambda redis: redis.ping()) is None  # still on fallback
    await shared.settle()


@contextmanager
def sql_statements(bastion: Bastion) -> Iterator[list[str]]:
    """Every SQL statement the instance sends to its database meanwhile."""
    seen: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = bastion.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def client_from(bastion: Bastion, address: str) -> httpx.AsyncClient:
    """A client of ``bastion`` that calls from ``address`` (the caller closes it)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bastion.app, client=(address, 40000)),
        base_url="http://testserver",
    )


def browser_like_client(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """A client that keeps the cookie and, as the browser UI does, the CSRF token.

    The token of the latest sign-in (or session check) goes out as X-CSRF-Token with the
    page's Origin on every unsafe request, unless the test sets those headers itself.
    """
    csrf: dict[str, str] = {}

    async def remember_token(response: httpx.Response) -> None:
        if response.request.url.path.startswith("/api/v1/auths/"):
            await response.aread()
            try:
                token = response.json().get("csrf_token")
            except (ValueError, AttributeError):
                return
            if isinstance(token, str):
                csrf["token"] = token

    async def send_token(request: httpx.Request) -> None:
        if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
            request.headers.setdefault("Origin", base_url)
            if "token" in csrf:
                request.headers.setdefault("X-CSRF-Token", csrf["token"])

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=base_url,
        event_hooks={"request": [send_token], "response": [remember_token]},
    )


StartBastion = Callable[..., Awaitable[Bastion]]


async def spare_admin(bastion: Bastion) -> None:
    """A second administrator, so that a test may disable or demote the first: the last
    active administrator is never taken away."""
    if await bastion.services.users.by_email("spare-admin@example.com") is not None:
        return
    await bastion.services.users.create(
        email="spare-admin@example.com",
        name="Spare admin",
        password_hash="unused",
        role="admin",
        first_is_admin=False,
    )


@pytest.fixture
def cheap_hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
async def start_bastion(
    tmp_path: Path, cheap_hasher: PasswordHasher
) -> AsyncIterator[StartBastion]:
    """Start an instance; calling it again on the same DATA_DIR is a restart."""
    running: list[Bastion] = []

    async def start(env: dict[str, str] | None = None, **kwargs: object) -> Bastion:
        # Tests sign up many accounts from one address; the limit's own tests lower it.
        environ = {
            "DATA_DIR": str(tmp_path / "data"),
            "SIGNUP_RATE_LIMIT": "1000/1h",
            **(env or {}),
        }
        settings = load_settings(environ)
        services = Services.build(settings, hasher=cheap_hasher, **kwargs)  # type: ignore[arg-type]
        await prepare(services)
        app = create_app(settings, services=services)
        client = browser_like_client(app)
        instance = Bastion(settings, services, client, app)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        await instance.client.aclose()
        await instance.services.close()


@pytest.fixture
async def bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion()


def create_database(postgres_url: str) -> str:
    """A new, empty database on the server of ``postgres_url``; its URL."""
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    name = f"bastion_{secrets.token_hex(6)}"
    server = make_url(postgres_url)
    with psycopg.connect(
        server.set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    ) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """A database of its own for one test, on the session's PostgreSQL server."""
    return create_database(postgres_url)
