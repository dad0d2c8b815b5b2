"""``GET /api/models``: every upstream's models, unique ids, filtered by access control."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.fake_upstreams import FakeUpstream, serve
from tests.gateway_support import Running, ServedBastion, gateway_env, grant, signup

ALL_MODELS = [f"gpt-{m}" for m in ("normal", "slow", "hanging", "dripping", "garbage", "oversized")]
ALL_MODELS += [m.replace("gpt-", "llama-") for m in ALL_MODELS]


def _ids(client: httpx.Client, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/models", headers=headers)
    assert response.status_code == 200, response.text
    return [model["id"] for model in response.json()["data"]]


def test_models_of_every_upstream_are_listed_in_openai_format(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str]
) -> None:
    bastion = served_bastion(env)
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = client.get("/api/models", headers=admin.auth)
    assert response.json()["object"] == "list"
    assert [m["id"] for m in response.json()["data"]] == ALL_MODELS
    assert response.json()["data"][0] == {
        "id": "gpt-normal",
        "object": "model",
        "created": 1,
        "owned_by": "openai",
        "name": "gpt-normal",
    }
    assert response.json()["data"][6]["owned_by"] == "ollama"


def test_a_model_id_used_by_an_earlier_upstream_gets_the_upstream_prefix(
    served_bastion: Callable[..., ServedBastion], openai_fake: Running
) -> None:
    env = gateway_env(openai_fake, None)
    env["OPENAI_API_BASE_URLS"] = f"{openai_fake.base_url};{openai_fake.base_url}"
    env["OPENAI_API_KEYS"] = "sk-a;sk-b"
    bastion = served_bastion(env)
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        ids = _ids(client, admin.auth)
    assert ids == ALL_MODELS[:6] + [f"openai-1/{m}" for m in ALL_MODELS[:6]]


# One worker keeps the access lists in memory; several read them from the database.
@pytest.mark.parametrize("workers", ["1", "2"])
def test_users_see_the_models_granted_to_them_or_their_groups_only(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str], workers: str
) -> None:
    bastion = served_bastion({**env, "WORKERS": workers})
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        alice = signup(client, "alice@example.com")
        bob = signup(client, "bob@example.com")
        assert _ids(client, alice.auth) == []
        grant(client, admin, "gpt-normal", user_ids=[alice.id])
        grant(client, admin, "llama-normal", groups=["staff"])
        members = client.post(
            "/api/v1/groups/staff/members", json={"user_ids": [bob.id]}, headers=admin.auth
        )
        assert members.json() == {"name": "staff", "user_ids": [bob.id]}
        assert _ids(client, alice.auth) == ["gpt-normal"]
        assert _ids(client, bob.auth) == ["llama-normal"]
        assert _ids(client, admin.auth) == ALL_MODELS
        access = client.get("/api/v1/models/llama-normal/access", headers=admin.auth)
    assert access.json() == {"model_id": "llama-normal", "user_ids": [], "groups": ["staff"]}
    changes = [e.details["model"] for e in bastion.sink.of_type("model.access_changed")]
    assert changes == ["gpt-normal", "llama-normal"]
    assert bastion.sink.of_type("group.members_changed")[0].details["user_ids"] == [bob.id]


def test_bypass_model_access_control_shows_every_model_to_everyone(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str]
) -> None:
    bastion = served_bastion({**env, "BYPASS_MODEL_ACCESS_CONTROL": "true"})
    with httpx.Client(base_url=bastion.url) as client:
        signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        assert _ids(client, user.auth) == ALL_MODELS


def test_access_lists_and_groups_are_for_admins_only(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str]
) -> None:
    bastion = served_bastion(env)
    with httpx.Client(base_url=bastion.url) as client:
        signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        calls = [
            client.post("/api/v1/models/gpt-normal/access", json={}, headers=user.auth),
            client.get("/api/v1/models/gpt-normal/access", headers=user.auth),
            client.post("/api/v1/groups/g/members", json={"user_ids": []}, headers=user.auth),
            client.get("/api/v1/groups/g/members", headers=user.auth),
        ]
    assert [call.status_code for call in calls] == [403, 403, 403, 403]


def test_the_model_list_is_cached_until_its_ttl_has_passed(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str], openai_fake: Running
) -> None:
    now = [1000.0]
    bastion = served_bastion({**env, "MODEL_LIST_CACHE_TTL": "10s"}, clock=lambda: now[0])

    def listings() -> int:
        return sum(r.path == "/v1/models" for r in openai_fake.fake.requests)

    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        _ids(client, admin.auth)
        now[0] += 9
        _ids(client, admin.auth)
        assert listings() == 1
        now[0] += 1
        _ids(client, admin.auth)
        assert listings() == 2


def test_an_unreachable_upstream_leaves_the_others_listed(
    served_bastion: Callable[..., ServedBastion], openai_fake: Running
) -> None:
    with serve(FakeUpstream("ollama")) as gone_url:
        pass  # the port is free again: nothing answers there
    bastion = served_bastion(gateway_env(openai_fake, Running(FakeUpstream("ollama"), gone_url)))
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        assert _ids(client, admin.auth) == ALL_MODELS[:6]


def test_without_upstreams_the_admin_is_told_and_users_see_an_empty_list(
    served_bastion: Callable[..., ServedBastion],
) -> None:
    bastion = served_bastion({"DEFAULT_USER_ROLE": "user"})
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        for_admin = client.get("/api/models", headers=admin.auth).json()
        for_user = client.get("/api/models", headers=user.auth).json()
    assert for_admin == {
        "object": "list",
        "data": [],
        "notice": (
            "No model upstream is configured: /api/models lists nothing and completions "
            "fail. Set OLLAMA_BASE_URLS or OPENAI_API_BASE_URLS (with ENABLE_OLLAMA_API or "
            "ENABLE_OPENAI_API) and restart, or add a connection under Administration, "
            "Server settings."
        ),
    }
    assert for_user == {"object": "list", "data": []}


def test_with_upstreams_the_admin_gets_no_notice(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str]
) -> None:
    bastion = served_bastion(env)
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        assert "notice" not in client.get("/api/models", headers=admin.auth).json()
