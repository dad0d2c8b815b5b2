"""Storing a completion's exchange in the chat it belongs to, the streamed answer included.

``POST /api/chat/completions`` with open-webui's ``chat_id`` (and its message ids ``id``
for the answer and ``parent_id`` for the prompt) stores the prompt and the answer in that
chat. The answer is collected as it passes to the client and written once, when the
exchange ends however it ends: a client that goes away mid-stream leaves the part it was
sent, because a person who closed the tab expects to find what they had already read.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from bastion.chats.history import Exchange, add_exchange
from bastion.errors import NotFound
from bastion.gateway.streaming import Exchange as UpstreamExchange
from bastion.gateway.streaming import Reply
from bastion.gateway.upstreams import GatewayError, InvalidCompletionRequest
from bastion.jsondata import MAX_STORED_SIZE, parse_json, storable_text
from bastion.store.chats import Chats

log = logging.getLogger("bastion.chats")

# open-webui's fields about the chat, which are not the model's business.
CHAT_FIELDS = ("chat_id", "id", "parent_id", "parent_message", "session_id")
# An answer larger than a chat may hold is cut here rather than lost.
MAX_ANSWER_CHARS = MAX_STORED_SIZE // 4
# open-webui's temporary chats are never stored, by it or here.
TEMPORARY_PREFIX = "local:"


def _optional_id(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and 0 < len(value) <= 255):
        return value
    raise InvalidCompletionRequest(f"The {key} must be a string of at most 255 characters.")


def _prompt(messages: list[Any]) -> Any:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message.get("content")
    return None


class _Answer:
    """The answer's text, read from the replies the client is sent."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.error: str | None = None

    def add(self, text: object) -> None:
        if isinstance(text, str) and text and self.size < MAX_ANSWER_CHARS:
            text = text[: MAX_ANSWER_CHARS - self.size]
            self.parts.append(text)
            self.size += len(text)

    def read_event(self, data: bytes) -> None:
        try:
            event = parse_json(data)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if isinstance(event.get("error"), dict):
            self.error = str(event["error"].get("message") or "The model failed.")
        choices = event.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta") or choices[0].get("message")
            if isinstance(delta, dict):
                self.add(delta.get("content"))

    @property
    def text(self) -> str:
        return storable_text("".join(self.parts))


class _Tap:
    """The reply's chunks, unchanged, read on their way to the client."""

    def __init__(self, chunks: AsyncIterator[bytes], answer: _Answer, *, streamed: bool) -> None:
        self._chunks = chunks
        self._answer = answer
        self._streamed = streamed
        self._pending = b""

    def __aiter__(self) -> _Tap:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            if not self._streamed:
                self._answer.read_event(self._pending)
            raise
        if len(self._pending) + len(chunk) <= MAX_STORED_SIZE:
            self._pending += chunk
        if self._streamed:
            *lines, self._pending = self._pending.split(b"\n")
            for line in lines:
                if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
                    self._answer.read_event(line[5:])
        return chunk


async def recording(
    chats: Chats, user_id: str, body: dict[str, Any], model: str
) -> Callable[[UpstreamExchange], UpstreamExchange] | None:
    """What wraps the upstream call to store it in the body's chat, which the caller must
    own (else 404).

    Takes open-webui's chat fields out of ``body`` so that they never reach the model
    server; None for a temporary chat, which is not stored.
    """
    chat_id = _optional_id(body, "chat_id")
    answer_id = _optional_id(body, "id")
    prompt_id = _optional_id(body, "parent_id")
    for key in CHAT_FIELDS:
        body.pop(key, None)
    if chat_id is None or chat_id.startswith(TEMPORARY_PREFIX):
        return None
    if not await chats.owns(user_id, chat_id):
        raise NotFound("No such chat.")
    recorder = ChatRecorder(
        chats,
        user_id,
        chat_id,
        model=model,
        answer_id=answer_id,
        prompt_id=prompt_id,
        prompt=_prompt(body["messages"]),
    )
    return recorder.around


class ChatRecorder:
    """One exchange on its way into one chat; :meth:`around` wraps the upstream call."""

    def __init__(
        self,
        chats: Chats,
        user_id: str,
        chat_id: str,
        *,
        model: str,
        answer_id: str | None,
        prompt_id: str | None,
        prompt: Any,
    ) -> None:
        self._chats = chats
        self._user_id = user_id
        self._chat_id = chat_id
        self._model = model
        self._answer_id = answer_id
        self._prompt_id = prompt_id
        self._prompt = prompt

    def around(self, exchange: UpstreamExchange) -> UpstreamExchange:
        @asynccontextmanager
        async def recorded() -> AsyncIterator[Reply]:
            answer = _Answer()
            done = False
            try:
                async with exchange() as reply:
                    streamed = reply.media_type.startswith("text/event-stream")
                    tap = _Tap(reply.chunks, answer, streamed=streamed)
                    yield Reply(reply.media_type, tap, reply.status)
                done = answer.error is None
            except GatewayError as failure:
                answer.error = failure.detail
                raise
            finally:
                # Shielded: a client that hung up cancels the exchange, not what it was sent.
                with anyio.CancelScope(shield=True):
                    await self._store(answer, done=done)

        return recorded

    async def _store(self, answer: _Answer, *, done: bool) -> None:
        exchange = Exchange(
            answer_id=self._answer_id or _new_id(),
            answer=answer.text,
            model=self._model,
            done=done,
            error=answer.error,
            prompt_id=self._prompt_id,
            prompt=self._prompt,
        )
        try:
            stored = await self._chats.change(
                self._user_id, self._chat_id, lambda chat, now: add_exchange(chat, exchange, now)
            )
        except Exception:  # the client has its answer whatever happens to the copy
            log.exception("The exchange could not be stored in its chat.")
            return
        if stored is None:
            log.warning("The chat was deleted before its exchange could be stored.")


def _new_id() -> str:
    return str(uuid.uuid4())
