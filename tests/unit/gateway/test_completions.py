"""``POST /api/chat/completions`` to OpenAI and Ollama upstreams, and how failures look."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from tests.fake_upstreams import FakeUpstream, serve
from tests.gateway_support import (
    UPSTREAM_KEY,
    Account,
    Running,
    ServedBastion,
    gateway_env,
    grant,
    signup,
)

MESSAGES = [{"role": "user", "content": "Say hello"}]


def _events(body: str) -> list[object]:
    """The data of every server-sent event, ``[DONE]`` as a string."""
    found: list[object] = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            data = block.removeprefix("data: ")
            found.append(data if data == "[DONE]" else json.loads(data))
    return found


def _text(events: list[object]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content", "")  # type: ignore[index]
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def _complete(
    client: httpx.Client, account: Account, model: str, **extra: object
) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, **extra}
    return client.post("/api/chat/completions", json=body, headers=account.auth)


@pytest.fixture
def bastion(served_bastion: Callable[..., ServedBastion], env: dict[str, str]) -> ServedBastion:
    return served_bastion({**env, "MODEL_UPSTREAM_READ_TIMEOUT": "300ms"})


def test_openai_upstream_gets_its_key_and_never_the_clients_credentials(
    bastion: ServedBastion, openai_fake: Running
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        client.cookies.set("token", admin.token)
        response = _complete(client, admin, "gpt-normal", temperature=0.5)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello!"
    seen = openai_fake.fake.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {"model": "gpt-normal", "messages": MESSAGES, "temperature": 0.5}
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "cookie" not in seen.headers
    assert admin.token not in json.dumps(seen.headers)


def test_openai_stream_is_passed_through_as_server_sent_events(bastion: ServedBastion) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = _complete(client, admin, "gpt-normal", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = _events(response.text)
    assert _text(events) == "Hello!" and events[-1] == "[DONE]"


def test_ollama_upstream_gets_a_translated_request_and_answers_in_openai_format(
    bastion: ServedBastion, ollama_fake: Running
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = _complete(client, admin, "llama-normal", max_tokens=20, temperature=0)
    assert response.status_code == 200
    answer = response.json()
    assert answer["object"] == "chat.completion" and answer["model"] == "llama-normal"
    assert answer["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}
    ]
    assert answer["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    seen = ollama_fake.fake.requests[-1]
    assert (seen.path, seen.body) == (
        "/api/chat",
        {
            "model": "llama-normal",
            "messages": MESSAGES,
            "stream": False,
            "options": {"num_predict": 20, "temperature": 0},
        },
    )
    assert "authorization" not in seen.headers


def test_ollama_stream_becomes_openai_chunks_ending_with_done(bastion: ServedBastion) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = _complete(client, admin, "llama-normal", stream=True)
    assert response.headers["content-type"] == "text/event-stream"
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hel"}
    assert _text(events) == "Hello!"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 8


def test_a_model_the_user_may_not_use_answers_404_and_is_recorded(bastion: ServedBastion) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        user = signup(client, "user@example.com")
        grant(client, admin, "gpt-normal", user_ids=[user.id])
        allowed = _complete(client, user, "gpt-normal")
        denied = _complete(client, user, "llama-normal")
        unknown = _complete(client, user, "no-such-model")
    assert allowed.status_code == 200
    assert denied.status_code == unknown.status_code == 404
    assert (
        denied.json()
        == unknown.json()
        == {
            "error": {
                "message": "No such model.",
                "type": "invalid_request_error",
                "code": "model_not_found",
            },
            "detail": "No such model.",
            "code": "model_not_found",
        }
    )
    [event] = bastion.sink.of_type("model.access_denied")
    assert (event.outcome, event.user_id, event.details) == (
        "denied",
        user.id,
        {"model": "llama-normal"},
    )


@pytest.mark.parametrize("model", ["gpt-hanging", "llama-hanging"])
@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_that_does_not_answer_in_time_gives_504(
    bastion: ServedBastion, model: str, stream: bool
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = _complete(client, admin, model, stream=stream)
    assert response.status_code == 504
    assert response.json()["error"] == {
        "message": "The model server did not answer in time.",
        "type": "api_error",
        "code": "upstream_timeout",
    }
    assert response.json()["code"] == "upstream_timeout"


@pytest.mark.parametrize(
    "model", ["gpt-garbage", "llama-garbage", "gpt-oversized", "llama-oversized"]
)
@pytest.mark.parametrize("stream", [False, True])
def test_garbage_or_oversized_answers_give_502(
    bastion: ServedBastion, model: str, stream: bool
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        response = _complete(client, admin, model, stream=stream)
    if stream and model == "gpt-oversized":
        # The stream had started: the cap ends it with an error event instead of a status.
        assert response.status_code == 200
        last = response.text.strip().rsplit("\n\n", 1)[-1]
        assert _events(last) == [
            {
                "error": {
                    "message": "The model server's answer is larger than allowed.",
                    "type": "api_error",
                    "code": "upstream_response_too_large",
                }
            }
        ]
        return
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert response.json()["code"] in {"upstream_error", "upstream_response_too_large"}


def test_an_unreachable_upstream_gives_502(
    served_bastion: Callable[..., ServedBastion], openai_fake: Running
) -> None:
    fake = FakeUpstream("ollama")
    with serve(fake) as url:
        bastion = served_bastion(gateway_env(openai_fake, Running(fake, url)))
        with httpx.Client(base_url=bastion.url) as client:
            admin = signup(client, "admin@example.com")
            assert client.get("/api/models", headers=admin.auth).status_code == 200
    with httpx.Client(base_url=bastion.url) as client:
        response = _complete(client, admin, "llama-normal")
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"


def test_the_upstream_key_never_reaches_a_client_or_the_log(
    bastion: ServedBastion, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        seen.append(client.get("/api/models", headers=admin.auth).text)
        for model in ("gpt-normal", "gpt-hanging", "gpt-garbage", "gpt-oversized"):
            for stream in (False, True):
                response = _complete(client, admin, model, stream=stream)
                seen += [response.text, json.dumps(dict(response.headers))]
    assert UPSTREAM_KEY not in "".join(seen)
    assert UPSTREAM_KEY not in caplog.text
    assert UPSTREAM_KEY not in repr(bastion.sink.events)
    assert "Traceback" not in caplog.text


def test_a_body_that_is_not_a_chat_request_gives_400(bastion: ServedBastion) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        not_json = client.post(
            "/api/chat/completions",
            content=b"{",
            headers={**admin.auth, "content-type": "application/json"},
        )
        no_messages = client.post(
            "/api/chat/completions", json={"model": "gpt-normal"}, headers=admin.auth
        )
    assert [not_json.status_code, no_messages.status_code] == [400, 400]
    assert not_json.json()["error"]["code"] == "invalid_request"


def test_completions_are_limited_per_user_by_the_costly_limit(
    served_bastion: Callable[..., ServedBastion], env: dict[str, str], openai_fake: Running
) -> None:
    bastion = served_bastion({**env, "COSTLY_RATE_LIMIT": "2/1m"})
    with httpx.Client(base_url=bastion.url) as client:
        admin = signup(client, "admin@example.com")
        answers = [_complete(client, admin, "gpt-normal") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    # Each answer tells where the caller stands.
    assert [answer.headers["ratelimit-remaining"] for answer in answers[:2]] == ["1", "0"]
    assert answers[0].headers["ratelimit-limit"] == "2"
    assert answers[2].json()["code"] == "rate_limited"
    assert int(answers[2].headers["retry-after"]) > 0
    # The refused completion never reached the upstream.
    completions = [r for r in openai_fake.fake.requests if r.path == "/v1/chat/completions"]
    assert len(completions) == 2
