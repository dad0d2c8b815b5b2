"""``POST /api/chat/completions`` with a ``chat_id`` stores the exchange in that chat."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_upstreams import FakeUpstream, serve
from tests.gateway_support import (
    Account,
    Running,
    ServedBastion,
    env,
    gateway_env,
    ollama_fake,
    openai_fake,
    served_bastion,
    signup,
)

__all__ = ["env", "ollama_fake", "openai_fake", "served_bastion"]

PROMPT = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def bastion(served_bastion: Callable[..., ServedBastion], env: dict[str, str]) -> ServedBastion:
    return served_bastion(env)


def _stored(tmp_path: Path, chat_id: str) -> dict[str, Any]:
    database = tmp_path / "data" / "bastion.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        (row,) = connection.execute("SELECT chat FROM chats WHERE id = ?", (chat_id,)).fetchall()
    return dict(json.loads(row[0]))


def _new_chat(client: httpx.Client, account: Account, chat: dict[str, Any] | None = None) -> str:
    response = client.post("/api/v1/chats/new", json={"chat": chat or {}}, headers=account.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _complete(client: httpx.Client, account: Account, **body: Any) -> httpx.Response:
    return client.post(
        "/api/chat/completions", json={"messages": PROMPT, **body}, headers=account.auth
    )


@pytest.mark.parametrize(
    ("model", "stream"),
    [("gpt-normal", True), ("gpt-normal", False), ("llama-normal", True), ("llama-normal", False)],
)
def test_the_prompt_and_the_answer_are_stored_in_the_chat(
    bastion: ServedBastion,
    openai_fake: Running,
    ollama_fake: Running,
    tmp_path: Path,
    model: str,
    stream: bool,
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner)
        response = _complete(
            client,
            owner,
            model=model,
            stream=stream,
            chat_id=chat_id,
            id="answer-1",
            parent_id="prompt-1",
            session_id="socket-1",
        )
    assert response.status_code == 200, response.text
    history = _stored(tmp_path, chat_id)["history"]
    assert history["currentId"] == "answer-1"
    prompt, answer = history["messages"]["prompt-1"], history["messages"]["answer-1"]
    assert {k: prompt[k] for k in ("role", "content", "parentId", "childrenIds")} == {
        "role": "user",
        "content": "Say hello",
        "parentId": None,
        "childrenIds": ["answer-1"],
    }
    assert {k: answer[k] for k in ("role", "content", "parentId", "model", "done")} == {
        "role": "assistant",
        "content": "Hello!",
        "parentId": "prompt-1",
        "model": model,
        "done": True,
    }
    assert isinstance(answer["timestamp"], int)
    assert [m["id"] for m in _stored(tmp_path, chat_id)["messages"]] == ["prompt-1", "answer-1"]
    # open-webui's fields about the chat are not the model server's business.
    upstream = openai_fake if model.startswith("gpt") else ollama_fake
    sent = upstream.fake.requests[-1].body
    assert not {"chat_id", "id", "parent_id", "session_id"} & set(sent)


def test_a_second_answer_to_the_same_prompt_is_a_sibling_and_becomes_current(
    bastion: ServedBastion, tmp_path: Path
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner)
        for answer_id in ("answer-1", "answer-2"):
            response = _complete(
                client,
                owner,
                model="gpt-normal",
                chat_id=chat_id,
                id=answer_id,
                parent_id="prompt-1",
            )
            assert response.status_code == 200, response.text
    chat = _stored(tmp_path, chat_id)
    assert chat["history"]["messages"]["prompt-1"]["childrenIds"] == ["answer-1", "answer-2"]
    assert chat["history"]["currentId"] == "answer-2"
    assert [m["id"] for m in chat["messages"]] == ["prompt-1", "answer-2"]


def test_a_chat_with_only_a_list_of_messages_keeps_them_before_the_exchange(
    bastion: ServedBastion, tmp_path: Path
) -> None:
    earlier = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hi."}]
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner, {"title": "Old", "messages": earlier})
        response = _complete(client, owner, model="gpt-normal", stream=True, chat_id=chat_id)
    assert response.status_code == 200, response.text
    chat = _stored(tmp_path, chat_id)
    assert chat["title"] == "Old"
    assert [(m["role"], m["content"]) for m in chat["messages"]] == [
        ("user", "hi"),
        ("assistant", "Hi."),
        ("user", "Say hello"),
        ("assistant", "Hello!"),
    ]
    assert chat["history"]["currentId"] == chat["messages"][-1]["id"]
    assert len(chat["history"]["messages"]) == 4


def test_another_users_chat_answers_404_and_nothing_reaches_the_model(
    bastion: ServedBastion, openai_fake: Running, tmp_path: Path
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        other = signup(client, "other@example.com")
        client.post(  # the other user may use the model: only the chat is refused
            "/api/v1/models/gpt-normal/access", json={"user_ids": [other.id]}, headers=owner.auth
        )
        chat_id = _new_chat(client, owner)
        theirs = _complete(client, other, model="gpt-normal", chat_id=chat_id, id="a")
        missing = _complete(client, owner, model="gpt-normal", chat_id="no-such-chat", id="a")
    assert (theirs.status_code, theirs.json()) == (
        404,
        {"detail": "No such chat.", "code": "not_found"},
    )
    assert missing.status_code == 404
    assert [r.path for r in openai_fake.fake.requests if r.method == "POST"] == []
    assert _stored(tmp_path, chat_id) == {}


def test_chat_fields_of_the_wrong_type_are_refused(bastion: ServedBastion) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner)
        numeric = _complete(client, owner, model="gpt-normal", chat_id=7)
        long_id = _complete(client, owner, model="gpt-normal", chat_id=chat_id, id="x" * 256)
    assert numeric.status_code == 400
    assert numeric.json()["detail"] == "The chat_id must be a string of at most 255 characters."
    assert long_id.status_code == 400


def test_without_a_chat_id_the_body_reaches_the_model_as_sent(
    bastion: ServedBastion, openai_fake: Running
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        response = _complete(client, owner, model="gpt-normal", id="answer-1", parent_id="p")
    assert response.status_code == 200
    assert openai_fake.fake.requests[-1].body["id"] == "answer-1"
    assert openai_fake.fake.requests[-1].body["parent_id"] == "p"


def test_a_temporary_chat_is_answered_and_not_stored(
    bastion: ServedBastion, openai_fake: Running, tmp_path: Path
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner)
        response = _complete(client, owner, model="gpt-normal", chat_id="local:abc", id="a")
    assert response.status_code == 200
    assert "chat_id" not in openai_fake.fake.requests[-1].body
    assert _stored(tmp_path, chat_id) == {}


def test_an_upstream_failure_is_stored_on_the_answer(
    bastion: ServedBastion, tmp_path: Path
) -> None:
    with httpx.Client(base_url=bastion.url) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner)
        response = _complete(
            client, owner, model="gpt-garbage", chat_id=chat_id, id="a", parent_id="p"
        )
    assert response.status_code == 502
    answer = _stored(tmp_path, chat_id)["history"]["messages"]["a"]
    assert (answer["content"], answer["done"]) == ("", False)
    assert answer["error"] == {"content": response.json()["detail"]}


@pytest.fixture
def paced_upstream() -> Iterator[Running]:
    fake = FakeUpstream("openai", paced=True)
    with serve(fake) as url:
        yield Running(fake, f"{url}/v1")


def test_a_client_gone_mid_stream_leaves_the_answer_so_far_in_the_chat(
    served_bastion: Callable[..., ServedBastion], paced_upstream: Running, tmp_path: Path
) -> None:
    bastion = served_bastion(gateway_env(paced_upstream, None))
    with httpx.Client(base_url=bastion.url, timeout=5) as client:
        owner = signup(client, "owner@example.com")
        chat_id = _new_chat(client, owner)
        body = {
            "model": "gpt-endless",
            "messages": PROMPT,
            "stream": True,
            "chat_id": chat_id,
            "id": "answer-1",
            "parent_id": "prompt-1",
        }
        received = ""
        with client.stream(
            "POST", "/api/chat/completions", json=body, headers=owner.auth
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    delta = json.loads(line[6:])["choices"][0]["delta"]
                    received += delta.get("content", "")
                if "word1 " in received:
                    break
        # Leaving the block hangs up in the middle of an endless answer.
    assert paced_upstream.fake.closed.wait(timeout=5)
    deadline = time.monotonic() + 5
    while "answer-1" not in _stored(tmp_path, chat_id).get("history", {}).get("messages", {}):
        assert time.monotonic() < deadline, "the partial answer was never stored"
        time.sleep(0.05)
    answer = _stored(tmp_path, chat_id)["history"]["messages"]["answer-1"]
    assert answer["content"].startswith("word0 word1 ")
    assert answer["done"] is False
    assert _stored(tmp_path, chat_id)["history"]["messages"]["prompt-1"]["content"] == "Say hello"
