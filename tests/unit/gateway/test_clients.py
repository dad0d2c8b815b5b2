"""The official ``openai`` and ``ollama`` clients, unchanged, and a browser's cookie."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import ollama
import openai
import pytest

from tests.gateway_support import ServedBastion, api_key, grant, signup

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def bastion(served_bastion: Callable[..., ServedBastion], env: dict[str, str]) -> ServedBastion:
    return served_bastion(env)


@pytest.fixture
def user_key(bastion: ServedBastion) -> str:
    """An ``sk-`` key of a plain user who may use gpt-normal and llama-normal."""
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        for model in ("gpt-normal", "llama-normal"):
            grant(client, admin, model, user_ids=[user.id])
        return api_key(client, user)


def test_openai_client_lists_models_and_completes_with_an_api_key(
    bastion: ServedBastion, user_key: str
) -> None:
    client = openai.OpenAI(base_url=f"{bastion.url}/api", api_key=user_key, max_retries=0)
    with client:
        _use_openai_client(client)


def _use_openai_client(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["gpt-normal", "llama-normal"]
    for model in ("gpt-normal", "llama-normal"):
        answer = client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == "Hello!"
        stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        assert (
            "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            == "Hello!"
        )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-slow", messages=MESSAGES)  # type: ignore[arg-type]


async def test_async_openai_client_streams_with_an_api_key(
    bastion: ServedBastion, user_key: str
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{bastion.url}/api", api_key=user_key, max_retries=0)
    for model in ("gpt-normal", "llama-normal"):
        answer = await client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == "Hello!"
        stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        assert "".join(parts) == "Hello!"
    await client.close()


def test_ollama_client_reaches_the_ollama_proxy_with_an_api_key(
    bastion: ServedBastion, user_key: str
) -> None:
    with ollama.Client(
        host=f"{bastion.url}/ollama", headers={"Authorization": f"Bearer {user_key}"}
    ) as client:
        _use_ollama_client(client)


def _use_ollama_client(client: ollama.Client) -> None:
    assert [model.model for model in client.list().models] == ["llama-normal"]
    answer = client.chat(model="llama-normal", messages=MESSAGES)
    assert answer.message.content == "Hello!"
    parts = [
        part.message.content
        for part in client.chat(model="llama-normal", messages=MESSAGES, stream=True)
    ]
    assert "".join(p or "" for p in parts) == "Hello!"
    with pytest.raises(ollama.ResponseError) as refused:
        client.pull("llama-normal")
    assert refused.value.status_code == 403


def test_a_browser_streams_a_completion_with_its_session_cookie(bastion: ServedBastion) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        answer = client.get("/api/v1/auths/")  # not signed in yet
        assert answer.status_code == 401
        signup(client, "admin@example.com")
        assert "token" in client.cookies  # set by the signup, as for a browser
        # The page reads its CSRF token from the session check and sends it with its origin.
        csrf = client.get("/api/v1/auths/").json()["csrf_token"]
        with client.stream(
            "POST",
            "/api/chat/completions",
            json={"model": "llama-normal", "messages": MESSAGES, "stream": True},
            headers={"X-CSRF-Token": csrf, "Origin": bastion.url},
        ) as response:
            assert response.status_code == 200
            body = response.read().decode()
    assert body.endswith("data: [DONE]\n\n") and '"content":"Hel"' in body
