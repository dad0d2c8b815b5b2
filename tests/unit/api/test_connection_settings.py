"""``/ollama/config``, ``/openai/config`` and ``/api/v1/retrieval/config``: the upstreams,
keys, upload size and web-fetch settings an administrator changes at run time, checked as
at start, audited with keys masked, and in force at the next request."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bastion.audit.events import MemorySink
from tests.fake_upstreams import FakeUpstream, serve
from tests.gateway_support import UPSTREAM_KEY, Running, gateway_env
from tests.support import Bastion, StartBastion
from tests.web_servers import ServerFactory, page

OPENAI = "/openai/config"
OLLAMA = "/ollama/config"
RETRIEVAL = "/api/v1/retrieval/config"
NEW_KEY = "sk-new-upstream-key-9876543210fedcba"
PROMPT = [{"role": "user", "content": "Say hello"}]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def first() -> Iterator[Running]:
    fake = FakeUpstream("openai")
    with serve(fake) as url:
        yield Running(fake, f"{url}/v1")


@pytest.fixture
def second() -> Iterator[Running]:
    fake = FakeUpstream("openai")
    with serve(fake) as url:
        yield Running(fake, f"{url}/v1")


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
async def bastion(start_bastion: StartBastion, first: Running, sink: MemorySink) -> Bastion:
    return await start_bastion(gateway_env(first, None), sinks=[sink])


async def _admin(bastion: Bastion) -> dict[str, str]:
    return _auth((await bastion.signup("admin@example.com"))["token"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", OPENAI, None),
        ("POST", f"{OPENAI}/update", {"ENABLE_OPENAI_API": False}),
        ("GET", OLLAMA, None),
        ("POST", f"{OLLAMA}/update", {"ENABLE_OLLAMA_API": False}),
        ("GET", RETRIEVAL, None),
        ("POST", f"{RETRIEVAL}/update", {"FILE_MAX_SIZE": 1}),
    ],
)
async def test_only_admins_read_or_change_connections_and_retrieval(
    start_bastion: StartBastion, method: str, path: str, body: dict | None
) -> None:
    bastion = await start_bastion({"DEFAULT_USER_ROLE": "user"})
    admin = await _admin(bastion)
    user = await bastion.signup("user@example.com")
    await bastion.client.post(
        "/api/v1/auths/admin/config", json={"DEFAULT_USER_ROLE": "pending"}, headers=admin
    )
    pending = await bastion.signup("pending@example.com")
    assert (user["role"], pending["role"]) == ("user", "pending")
    bastion.client.cookies.clear()  # each request as its bearer token says, or anonymous
    before = bastion.services.settings
    for headers, status in (
        (_auth(user["token"]), 403),
        (_auth(pending["token"]), 403),
        ({}, 401),
    ):
        refused = await bastion.client.request(method, path, json=body, headers=headers)
        assert refused.status_code == status, (headers, refused.text)
    assert bastion.services.settings is before
    assert (await bastion.client.request(method, path, json=body, headers=admin)).status_code == 200


async def test_keys_are_shown_masked_and_never_in_full(bastion: Bastion, first: Running) -> None:
    shown = await bastion.client.get(OPENAI, headers=await _admin(bastion))
    assert shown.status_code == 200
    assert shown.json() == {
        "ENABLE_OPENAI_API": True,
        "OPENAI_API_BASE_URLS": [first.base_url],
        "OPENAI_API_KEYS": ["****" + UPSTREAM_KEY[-4:]],
        "OPENAI_API_CONFIGS": {},
    }
    assert UPSTREAM_KEY[:-4] not in shown.text


async def test_a_new_upstream_serves_the_next_request_with_the_key_kept(
    bastion: Bastion, first: Running, second: Running, sink: MemorySink
) -> None:
    admin = await _admin(bastion)
    masked = (await bastion.client.get(OPENAI, headers=admin)).json()["OPENAI_API_KEYS"]
    # The first upstream keeps its key through the masked form; the second gets its own.
    changed = await bastion.client.post(
        f"{OPENAI}/update",
        json={
            "OPENAI_API_BASE_URLS": [second.base_url, first.base_url],
            "OPENAI_API_KEYS": [NEW_KEY, masked[0]],
            "OPENAI_API_CONFIGS": {},
        },
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["OPENAI_API_KEYS"] == ["****" + NEW_KEY[-4:], masked[0]]
    assert bastion.services.settings.gateway.openai_api_keys == (NEW_KEY, UPSTREAM_KEY)

    answer = await bastion.client.post(
        "/api/chat/completions", json={"model": "gpt-normal", "messages": PROMPT}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    [seen] = [r for r in second.fake.requests if r.path == "/v1/chat/completions"]
    assert seen.headers["authorization"] == f"Bearer {NEW_KEY}"
    assert not [r for r in first.fake.requests if r.path == "/v1/chat/completions"]
    listed = await bastion.client.get("/api/models", headers=admin)
    assert "openai-1/gpt-normal" in [model["id"] for model in listed.json()["data"]]

    [event] = sink.of_type("settings.changed")
    assert event.details["old"]["OPENAI_API_KEYS"] == [masked[0]]
    assert event.details["new"]["OPENAI_API_KEYS"] == ["****" + NEW_KEY[-4:], masked[0]]
    recorded = json.dumps([e.details for e in sink.events])
    assert UPSTREAM_KEY not in recorded and NEW_KEY not in recorded
    assert UPSTREAM_KEY[:-4] not in recorded and NEW_KEY[:-4] not in recorded


@pytest.mark.parametrize(
    ("form", "variable", "code"),
    [
        ({"OPENAI_API_BASE_URLS": ["ftp://models.example"]}, "OPENAI_API_BASE_URLS", None),
        ({"OPENAI_API_BASE_URLS": ["http://u:p@models.example"]}, "OPENAI_API_BASE_URLS", None),
        ({"OPENAI_API_BASE_URLS": ["http://[::1"]}, "OPENAI_API_BASE_URLS", None),
        ({"OPENAI_API_BASE_URLS": ["http://models.example:99999"]}, "OPENAI_API_BASE_URLS", None),
        (
            {"OPENAI_API_BASE_URLS": ["http://a.example;http://b.example"]},
            "OPENAI_API_BASE_URLS",
            None,
        ),
        (
            {"OPENAI_API_BASE_URLS": ["http://models.example"], "OPENAI_API_KEYS": ["****zzzz"]},
            "OPENAI_API_KEYS",
            None,
        ),
        ({"OPENAI_API_KEYS": ["a", "b"]}, "OPENAI_API_KEYS", None),
        ({"OPENAI_API_KEYS": ["key with spaces"]}, "OPENAI_API_KEYS", None),
        ({"OPENAI_API_CONFIGS": {"0": {"enable": False}}}, "OPENAI_API_CONFIGS", None),
        ({"ENABLE_OPENAI_API": "yes"}, "ENABLE_OPENAI_API", None),
        ({"DATABASE_URL": "sqlite:///elsewhere.db"}, "DATABASE_URL", "start_time_only"),
        ({"WEBUI_SECRET_KEY": "x" * 40}, "WEBUI_SECRET_KEY", "start_time_only"),
    ],
)
async def test_a_refused_connection_keeps_the_old_one_and_says_why(
    bastion: Bastion, form: dict, variable: str, code: str | None
) -> None:
    admin = await _admin(bastion)
    before = (await bastion.client.get(OPENAI, headers=admin)).json()
    refused = await bastion.client.post(f"{OPENAI}/update", json=form, headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (422, code or "invalid_setting")
    assert refused.json()["detail"].startswith(f"{variable}: ")
    assert UPSTREAM_KEY not in refused.text
    assert (await bastion.client.get(OPENAI, headers=admin)).json() == before
    answer = await bastion.client.post(
        "/api/chat/completions", json={"model": "gpt-normal", "messages": PROMPT}, headers=admin
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "path", [f"{OLLAMA}/update", f"{RETRIEVAL}/update", "/api/v1/auths/admin/config"]
)
async def test_every_settings_route_refuses_what_is_read_at_start(
    bastion: Bastion, path: str
) -> None:
    refused = await bastion.client.post(
        path, json={"REDIS_URL": "redis://elsewhere:6379"}, headers=await _admin(bastion)
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "start_time_only")
    assert refused.json()["detail"].startswith("REDIS_URL: is read at start only.")


async def test_ollama_switched_off_at_run_time_answers_as_open_webui(
    start_bastion: StartBastion,
) -> None:
    fake = FakeUpstream("ollama")
    with serve(fake) as url:
        bastion = await start_bastion(gateway_env(None, Running(fake, url)))
        admin = await _admin(bastion)
        version = await bastion.client.get("/ollama/api/version", headers=admin)
        assert version.status_code == 200 and version.json() != {"version": False}
        shown = await bastion.client.get(OLLAMA, headers=admin)
        assert shown.json() == {
            "ENABLE_OLLAMA_API": True,
            "OLLAMA_BASE_URLS": [url],
            "OLLAMA_API_CONFIGS": {},
        }
        changed = await bastion.client.post(
            f"{OLLAMA}/update",
            json={"ENABLE_OLLAMA_API": True, "OLLAMA_BASE_URLS": [], "OLLAMA_API_CONFIGS": {}},
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["OLLAMA_BASE_URLS"] == []
        version = await bastion.client.get("/ollama/api/version", headers=admin)
        assert version.json() == {"version": False}


async def test_a_smaller_upload_limit_applies_at_once(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"DEFAULT_USER_ROLE": "user", "FILE_MAX_SIZE": "3"})
    admin = await _admin(bastion)
    shown = await bastion.client.get(RETRIEVAL, headers=admin)
    assert shown.json()["FILE_MAX_SIZE"] == 3
    content = b"x" * (2 * 1024 * 1024)
    upload = {"file": ("notes.txt", content, "text/plain")}
    assert (await bastion.client.post("/api/v1/files/", files=upload, headers=admin)).is_success
    changed = await bastion.client.post(
        f"{RETRIEVAL}/update", json={"FILE_MAX_SIZE": 1, "CHUNK_SIZE": 500}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["FILE_MAX_SIZE"], changed.json()["IGNORED"]) == (1, ["CHUNK_SIZE"])
    refused = await bastion.client.post("/api/v1/files/", files=upload, headers=admin)
    assert refused.status_code == 413
    # Raised again above the size read at start: the request-body cap follows.
    await bastion.client.post(f"{RETRIEVAL}/update", json={"FILE_MAX_SIZE": 5}, headers=admin)
    bigger = {"file": ("notes.txt", b"x" * (4 * 1024 * 1024), "text/plain")}
    assert (await bastion.client.post("/api/v1/files/", files=bigger, headers=admin)).is_success


@pytest.mark.parametrize(
    ("form", "variable"),
    [
        ({"FILE_MAX_SIZE": 0}, "FILE_MAX_SIZE"),
        ({"FILE_MAX_SIZE": "big"}, "FILE_MAX_SIZE"),
        ({"web": {"WEB_FETCH_FILTER_LIST": ["!"]}}, "WEB_FETCH_FILTER_LIST"),
        ({"web": {"ENABLE_LOCAL_WEB_FETCH": 1}}, "ENABLE_LOCAL_WEB_FETCH"),
    ],
)
async def test_a_refused_retrieval_setting_keeps_the_old_one(
    bastion: Bastion, form: dict, variable: str
) -> None:
    admin = await _admin(bastion)
    before = (await bastion.client.get(RETRIEVAL, headers=admin)).json()
    refused = await bastion.client.post(f"{RETRIEVAL}/update", json=form, headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_setting")
    assert refused.json()["detail"].startswith(f"{variable}: ")
    assert (await bastion.client.get(RETRIEVAL, headers=admin)).json() == before


async def test_local_web_fetch_switched_on_at_run_time_is_used_at_once(
    start_bastion: StartBastion, web_server: ServerFactory, sink: MemorySink
) -> None:
    server = await web_server(page(b"<p>inside</p>", "text/html"))
    bastion = await start_bastion(sinks=[sink])
    admin = await _admin(bastion)
    fetch = {"url": f"{server.origin}/"}
    refused = await bastion.client.post("/api/v1/retrieval/process/web", json=fetch, headers=admin)
    assert refused.json()["code"] == "url_not_allowed"
    changed = await bastion.client.post(
        f"{RETRIEVAL}/update",
        json={"web": {"ENABLE_LOCAL_WEB_FETCH": True, "ENABLE_WEB_SEARCH": False}},
        headers=admin,
    )
    assert changed.json()["web"]["ENABLE_LOCAL_WEB_FETCH"] is True
    assert changed.json()["IGNORED"] == ["web.ENABLE_WEB_SEARCH"]
    fetched = await bastion.client.post("/api/v1/retrieval/process/web", json=fetch, headers=admin)
    assert fetched.json()["content"] == "inside"
    [event] = sink.of_type("settings.changed")
    assert event.details["old"] == {
        "web": {**changed.json()["web"], "ENABLE_LOCAL_WEB_FETCH": False}
    }


async def test_a_changed_upstream_outlives_a_restart_unless_the_environment_must_win(
    start_bastion: StartBastion, first: Running, second: Running
) -> None:
    env = gateway_env(first, None)
    bastion = await start_bastion(env)
    admin = await _admin(bastion)
    changed = await bastion.client.post(
        f"{OPENAI}/update",
        json={"OPENAI_API_BASE_URLS": [second.base_url], "OPENAI_API_KEYS": [NEW_KEY]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    restarted = await start_bastion(env)
    assert restarted.services.settings.gateway.openai_api_base_urls == (second.base_url,)
    assert restarted.services.gateway.catalog.upstreams[0].key == NEW_KEY
    env_wins = await start_bastion({**env, "ENABLE_PERSISTENT_CONFIG": "false"})
    assert env_wins.services.settings.gateway.openai_api_base_urls == (first.base_url,)
    assert env_wins.services.gateway.catalog.upstreams[0].key == UPSTREAM_KEY
