"""``/ollama/…``: admins reach every endpoint, users the reading ones and their models."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.gateway_support import Running, ServedBastion, gateway_env, grant, signup


@pytest.fixture
def bastion(served_bastion: Callable[..., ServedBastion], env: dict[str, str]) -> ServedBastion:
    return served_bastion(env)


def test_admins_reach_every_ollama_endpoint(bastion: ServedBastion, ollama_fake: Running) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        pull = client.post("/ollama/api/pull", json={"model": "x"}, headers=admin.auth)
        delete = client.request(
            "DELETE", "/ollama/api/delete", json={"model": "x"}, headers=admin.auth
        )
        tags = client.get("/ollama/api/tags", headers=admin.auth)
    assert (pull.status_code, pull.json()) == (200, {"status": "success"})
    assert delete.status_code == 200
    assert len(tags.json()["models"]) == 6
    assert [r.path for r in ollama_fake.fake.requests[-3:]] == [
        "/api/pull",
        "/api/delete",
        "/api/tags",
    ]
    assert all("authorization" not in r.headers for r in ollama_fake.fake.requests)


def test_users_reach_reading_endpoints_and_the_models_they_may_use(
    bastion: ServedBastion, ollama_fake: Running
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        grant(client, admin, "llama-normal", user_ids=[user.id])
        tags = client.get("/ollama/api/tags", headers=user.auth)
        ps = client.get("/ollama/api/ps", headers=user.auth)
        version = client.get("/ollama/api/version", headers=user.auth)
        show = client.post("/ollama/api/show", json={"model": "llama-normal"}, headers=user.auth)
        chat = client.post(
            "/ollama/api/chat",
            json={"model": "llama-normal", "messages": [], "stream": False},
            headers=user.auth,
        )
        generate = client.post(
            "/ollama/api/generate",
            json={"model": "llama-normal", "prompt": "hi"},
            headers=user.auth,
        )
        other_model = client.post(
            "/ollama/api/chat", json={"model": "llama-slow", "messages": []}, headers=user.auth
        )
        pull = client.post("/ollama/api/pull", json={"model": "x"}, headers=user.auth)
        traversal = client.post("/ollama/api/tags/%2e%2e/pull", json={}, headers=user.auth)
    assert [m["model"] for m in tags.json()["models"]] == ["llama-normal"]
    assert [m["model"] for m in ps.json()["models"]] == ["llama-normal"]
    assert version.json() == {"version": "0.0.0-fake"}
    assert show.status_code == chat.status_code == generate.status_code == 200
    assert chat.json()["message"]["content"] == "Hello!"
    assert generate.text.endswith('"eval_count": 3}\n')
    assert other_model.status_code == 404
    assert (pull.status_code, pull.json()["code"]) == (403, "ollama_endpoint_denied")
    assert traversal.status_code == 403
    assert "/api/pull" not in [r.path for r in ollama_fake.fake.requests]
    assert [e.details["model"] for e in bastion.sink.of_type("model.access_denied")] == [
        "llama-slow"
    ]
    assert bastion.sink.of_type("ollama.endpoint_denied")[0].details["path"] == "api/pull"


def test_the_checked_model_is_the_one_forwarded(
    bastion: ServedBastion, ollama_fake: Running
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        grant(client, admin, "llama-normal", user_ids=[user.id])
        response = client.post(
            "/ollama/api/chat",
            content=b'{"model": "llama-slow", "model": "llama-normal", "stream": false}',
            headers={**user.auth, "content-type": "application/json"},
        )
    assert response.status_code == 200
    assert ollama_fake.fake.requests[-1].body["model"] == "llama-normal"


def test_without_an_ollama_server_the_proxy_answers_404(
    served_bastion: Callable[..., ServedBastion], openai_fake: Running
) -> None:
    bastion = served_bastion(gateway_env(openai_fake, None))
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = client.get("/ollama/api/tags", headers=admin.auth)
        version = client.get("/ollama/api/version", headers=admin.auth)
    assert (response.status_code, response.json()["code"]) == (404, "ollama_disabled")
    # open-webui's answer, which its UI reads as "Ollama is off".
    assert (version.status_code, version.json()) == (200, {"version": False})


def test_an_upstream_answer_of_another_type_is_not_served_as_it_came(
    bastion: ServedBastion,
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = client.post(
            "/ollama/api/chat", json={"model": "llama-garbage", "stream": False}, headers=admin.auth
        )
    assert response.text == "<html>not what you asked for"
    assert response.headers["content-type"] == "application/octet-stream"
