"""Runtime settings across instances sharing Redis: a change on one instance governs the
other's next request, a held API key included, and through a stopped Redis too."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from bastion.shared.redis import RedisStorage
from tests.fake_upstreams import FakeUpstream, serve
from tests.gateway_support import Running, gateway_env
from tests.integration.redis_server import RedisServer
from tests.support import PASSWORD, Bastion, Clock, sql_statements

CONFIG = "/api/v1/auths/admin/config"
ENV = {"REDIS_TIMEOUT": "2s", "REDIS_RETRY_INTERVAL": "5s", "ENABLE_API_KEYS": "true"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def start(start_bastion, clock: Clock, sink: MemorySink):
    async def start_on(url: str) -> Bastion:
        return await start_bastion({"REDIS_URL": url, **ENV}, clock=clock, sinks=[sink])

    return start_on


async def _signup(bastion: Bastion, email: str) -> int:
    response = await bastion.client.post(
        "/api/v1/auths/signup", json={"name": "N", "email": email, "password": PASSWORD}
    )
    return response.status_code


async def _held_key(bastion: Bastion, admin: dict) -> str:
    created = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(admin["token"])
    )
    key: str = created.json()["key"]
    for _ in range(2):  # read at first use, vouched for by Redis at the second
        assert (await bastion.me(key)).status_code == 200
    await bastion.services.api_keys.last_use.flush()
    with sql_statements(bastion) as seen:
        assert (await bastion.me(key)).status_code == 200
    assert seen == []  # served from memory: only Redis can tell it what changed
    return key


async def test_a_change_on_one_instance_reaches_the_other_through_redis(
    start, redis_url: str
) -> None:
    one = await start(redis_url)
    other = await start(redis_url)
    admin = await one.signup("admin@example.com")
    key = await _held_key(other, admin)

    changed = await one.client.post(
        CONFIG,
        json={"ENABLE_SIGNUP": False, "ENABLE_API_KEY": False},
        headers=_auth(admin["token"]),
    )
    assert changed.status_code == 200, changed.text

    refused = await other.me(key)
    assert (refused.status_code, refused.json()["code"]) == (403, "api_keys_disabled")
    assert await _signup(other, "late@example.com") == 403

    await one.client.post(CONFIG, json={"ENABLE_API_KEY": True}, headers=_auth(admin["token"]))
    assert (await other.me(key)).status_code == 200


async def test_with_redis_stopped_the_database_tells_the_other_instance(
    start, redis_process: RedisServer
) -> None:
    one = await start(redis_process.url)
    other = await start(redis_process.url)
    admin = await one.signup("admin@example.com")
    assert await _signup(other, "early@example.com") == 200
    redis_process.kill()

    changed = await one.client.post(
        CONFIG, json={"ENABLE_SIGNUP": False}, headers=_auth(admin["token"])
    )
    assert changed.status_code == 200, changed.text
    assert await _signup(other, "late@example.com") == 403


async def test_new_upstreams_set_on_one_instance_serve_the_others_next_request(
    start_bastion, clock: Clock, sink: MemorySink, redis_url: str, monkeypatch
) -> None:
    old, new = FakeUpstream("openai"), FakeUpstream("openai")
    with serve(old) as old_url, serve(new) as new_url:
        env = {
            "REDIS_URL": redis_url,
            **ENV,
            **gateway_env(Running(old, f"{old_url}/v1"), None),
        }
        one = await start_bastion(env, clock=clock, sinks=[sink])
        other = await start_bastion(env, clock=clock, sinks=[sink])
        admin = await one.signup("admin@example.com")
        completion = {"model": "gpt-normal", "messages": [{"role": "user", "content": "Hi"}]}
        answer = await other.client.post(
            "/api/chat/completions", json=completion, headers=_auth(admin["token"])
        )
        assert answer.status_code == 200, answer.text

        changed = await one.client.post(
            "/openai/config/update",
            json={
                "OPENAI_API_BASE_URLS": [f"{new_url}/v1"],
                "OPENAI_API_KEYS": ["sk-new-0123456789"],
            },
            headers=_auth(admin["token"]),
        )
        assert changed.status_code == 200, changed.text
        # The version comes with the authentication's round trip: none more is made.
        asked = []
        ask = RedisStorage.settings_version

        async def counted(redis: RedisStorage) -> int:
            asked.append(1)
            return await ask(redis)

        monkeypatch.setattr(RedisStorage, "settings_version", counted)
        answer = await other.client.post(
            "/api/chat/completions", json=completion, headers=_auth(admin["token"])
        )
        assert answer.status_code == 200, answer.text
        assert asked == []
        chats = [r for r in new.requests if r.path == "/v1/chat/completions"]
        assert [r.headers["authorization"] for r in chats] == ["Bearer sk-new-0123456789"]
        assert len([r for r in old.requests if r.path == "/v1/chat/completions"]) == 1
        shown = await other.client.get("/openai/config", headers=_auth(admin["token"]))
        assert shown.json()["OPENAI_API_KEYS"] == ["****6789"]
    assert "sk-new-0123456789" not in str([event.details for event in sink.events])


async def test_a_larger_upload_limit_set_on_one_instance_admits_the_others_next_upload(
    start_bastion, clock: Clock, sink: MemorySink, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url, **ENV, "FILE_MAX_SIZE": "1"}
    one = await start_bastion(env, clock=clock, sinks=[sink])
    other = await start_bastion(env, clock=clock, sinks=[sink])
    admin = await one.signup("admin@example.com")
    upload = {"file": ("notes.txt", b"x" * (2 * 1024 * 1024), "text/plain")}
    refused = await other.client.post("/api/v1/files/", files=upload, headers=_auth(admin["token"]))
    assert refused.status_code == 413
    changed = await one.client.post(
        "/api/v1/retrieval/config/update",
        json={"FILE_MAX_SIZE": 3},
        headers=_auth(admin["token"]),
    )
    assert changed.status_code == 200, changed.text
    # The request-body cap is the first to ask: the upload is not refused before the route.
    stored = await other.client.post("/api/v1/files/", files=upload, headers=_auth(admin["token"]))
    assert stored.status_code == 200, stored.text
