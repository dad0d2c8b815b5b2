"""A client that goes away closes the upstream request; a slow upstream blocks nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.gateway_support import Running, ServedBastion, signup

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def bastion(served_bastion: Callable[..., ServedBastion], env: dict[str, str]) -> ServedBastion:
    # Long enough that only the client's disconnect can end the exchange.
    return served_bastion({**env, "MODEL_UPSTREAM_READ_TIMEOUT": "60s"})


def _fake(model: str, openai_fake: Running, ollama_fake: Running) -> Running:
    return openai_fake if model.startswith("gpt") else ollama_fake


@pytest.mark.parametrize(
    ("model", "stream"),
    [
        ("gpt-dripping", True),
        ("llama-dripping", True),
        ("gpt-dripping", False),
        ("gpt-hanging", True),
        ("llama-hanging", True),
        ("llama-hanging", False),
    ],
)
def test_client_disconnect_closes_the_upstream_request(
    bastion: ServedBastion,
    openai_fake: Running,
    ollama_fake: Running,
    model: str,
    stream: bool,
) -> None:
    upstream = _fake(model, openai_fake, ollama_fake).fake
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
    body = {"model": model, "messages": MESSAGES, "stream": stream}
    reads_a_chunk = model.endswith("dripping") and stream
    # A client that reads one chunk may wait for it; the others hang up after 0.3 s.
    timeout = httpx.Timeout(5, read=5 if reads_a_chunk else 0.3)
    with httpx.Client(base_url=bastion.url, timeout=timeout) as client:
        if reads_a_chunk:
            with client.stream(
                "POST", "/api/chat/completions", json=body, headers=admin.auth
            ) as response:
                assert response.status_code == 200
                assert next(response.iter_bytes()).startswith(b"data: ")
            # Leaving the block closes the connection in the middle of the stream.
        else:
            with pytest.raises(httpx.ReadTimeout):  # the client gives up and hangs up
                client.post("/api/chat/completions", json=body, headers=admin.auth)
    assert upstream.closed.wait(timeout=5)
    assert upstream.closed_early == 1


def _held(upstream: Running) -> int:
    return sum(bool(r.body) and r.body["model"] == "gpt-hanging" for r in upstream.fake.requests)


async def test_a_hanging_upstream_does_not_block_other_requests(
    bastion: ServedBastion, openai_fake: Running
) -> None:
    async with httpx.AsyncClient(base_url=bastion.url, timeout=10) as client:
        response = await client.post(
            "/api/v1/auths/signup",
            json={
                "name": "A",
                "email": "admin@example.com",
                "password": "correct horse battery staple",
            },
        )
        auth = {"Authorization": f"Bearer {response.json()['token']}"}
        hanging = [
            asyncio.create_task(
                client.post(
                    "/api/chat/completions",
                    json={"model": "gpt-hanging", "messages": MESSAGES, "stream": stream},
                    headers=auth,
                )
            )
            for stream in (True, False, True)
        ]
        for _ in range(500):  # until the upstream holds all three
            if _held(openai_fake) == 3:
                break
            await asyncio.sleep(0.01)
        health = await client.get("/health")
        answer = await client.post(
            "/api/chat/completions",
            json={"model": "llama-normal", "messages": MESSAGES},
            headers=auth,
        )
        assert all(not task.done() for task in hanging)
        for task in hanging:
            task.cancel()
        await asyncio.gather(*hanging, return_exceptions=True)
    assert health.status_code == 200
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "Hello!"


@pytest.mark.parametrize("model", ["gpt-slow", "llama-slow"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_slow_upstream_within_the_read_timeout_answers_in_full(
    bastion: ServedBastion, model: str, stream: bool
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = client.post(
            "/api/chat/completions",
            json={"model": model, "messages": MESSAGES, "stream": stream},
            headers=admin.auth,
        )
    assert response.status_code == 200
    if stream:
        assert response.text.endswith("data: [DONE]\n\n")
    else:
        assert response.json()["choices"][0]["message"]["content"] == "Hello!"
