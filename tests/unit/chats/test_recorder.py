"""What the recorder reads from a reply on its way to the client, and what it stores."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bastion.chats import recorder as recorder_module
from bastion.chats.recorder import ChatRecorder
from bastion.gateway.streaming import Reply
from bastion.gateway.upstreams import UpstreamFailure


class FakeChats:
    def __init__(self, *, fails: bool = False, gone: bool = False) -> None:
        self.chat: dict[str, Any] = {}
        self.fails = fails
        self.gone = gone

    async def change(
        self, user_id: str, chat_id: str, edit: Callable[[dict[str, Any], int], dict[str, Any]]
    ) -> object:
        if self.fails:
            raise RuntimeError("database down")
        if self.gone:
            return None
        self.chat = edit(self.chat, 5)
        return self.chat


def _recorder(chats: FakeChats) -> ChatRecorder:
    return ChatRecorder(
        chats,  # type: ignore[arg-type]
        "u",
        "c",
        model="m",
        answer_id="a",
        prompt_id="p",
        prompt="hello",
    )


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _event(content: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": content}}]}).encode()


async def _run(chats: FakeChats, media_type: str, parts: list[bytes]) -> list[bytes]:
    @asynccontextmanager
    async def exchange() -> AsyncIterator[Reply]:
        yield Reply(media_type, _chunks(parts))

    sent: list[bytes] = []
    async with _recorder(chats).around(exchange)() as reply:
        async for chunk in reply.chunks:
            sent.append(chunk)
    return sent


async def test_events_split_across_chunks_are_read_and_the_bytes_pass_unchanged() -> None:
    chats = FakeChats()
    whole = _event("Hel") + b"\n\n" + _event("lo") + b"\n\ndata: [DONE]\n\n"
    parts = [whole[:10], whole[10:50], whole[50:]]
    assert await _run(chats, "text/event-stream", parts) == parts
    answer = chats.chat["history"]["messages"]["a"]
    assert (answer["content"], answer["done"]) == ("Hello", True)


async def test_unreadable_events_are_skipped_and_an_error_event_is_kept() -> None:
    chats = FakeChats()
    error = json.dumps({"error": {"message": "The model failed badly."}}).encode()
    parts = [b"data: {not json\n\ndata: [1]\n\n", _event("x\x00y") + b"\n\n", b"data: " + error]
    await _run(chats, "text/event-stream", [*parts, b"\n\n"])
    answer = chats.chat["history"]["messages"]["a"]
    assert answer["content"] == "xy"  # a NUL cannot be stored
    assert answer["error"] == {"content": "The model failed badly."}
    assert answer["done"] is False


async def test_a_whole_json_answer_is_read_at_its_end() -> None:
    chats = FakeChats()
    body = json.dumps({"choices": [{"message": {"content": "Hi."}}]}).encode()
    await _run(chats, "application/json", [body[:5], body[5:]])
    assert chats.chat["history"]["messages"]["a"]["content"] == "Hi."


async def test_an_answer_longer_than_a_chat_holds_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "MAX_ANSWER_CHARS", 4)
    chats = FakeChats()
    await _run(chats, "text/event-stream", [_event("abc") + b"\n", _event("def") + b"\n"])
    assert chats.chat["history"]["messages"]["a"]["content"] == "abcd"


async def test_a_failure_before_the_reply_is_stored_and_raised() -> None:
    chats = FakeChats()

    @asynccontextmanager
    async def exchange() -> AsyncIterator[Reply]:
        raise UpstreamFailure("The model server is down.")
        yield Reply("text/event-stream", _chunks([]))  # pragma: no cover

    with pytest.raises(UpstreamFailure):
        async with _recorder(chats).around(exchange)():
            pass  # pragma: no cover
    answer = chats.chat["history"]["messages"]["a"]
    assert answer["error"] == {"content": "The model server is down."}


@pytest.mark.parametrize("chats", [FakeChats(fails=True), FakeChats(gone=True)])
async def test_a_chat_that_cannot_take_the_exchange_leaves_the_answer_alone(
    chats: FakeChats, caplog: pytest.LogCaptureFixture
) -> None:
    assert await _run(chats, "text/event-stream", [_event("x") + b"\n"]) == [_event("x") + b"\n"]
    assert chats.chat == {}
    assert [r.name for r in caplog.records] == ["bastion.chats"]
