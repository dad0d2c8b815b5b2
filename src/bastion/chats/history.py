"""A chat's messages in open-webui's shape, changed by pure functions.

open-webui keeps two views of one conversation in the chat's JSON: ``history`` (every
message by id, each naming its ``parentId`` and ``childrenIds``, plus the ``currentId`` of
the branch shown) and ``messages`` (that branch as a list, root first). Every change here
edits the tree and derives the list from it, so the two never disagree. A chat that has
only the list (written by a script) gets its tree from the list first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One prompt and its answer, as the completion route saw them."""

    answer_id: str
    answer: str
    model: str
    done: bool
    error: str | None = None
    prompt_id: str | None = None
    prompt: Any = None  # the user message's content (text or parts); None for none


def _tree(chat: dict[str, Any]) -> tuple[dict[str, Message], str | None]:
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        stored = history["messages"]
        messages = {key: dict(value) for key, value in stored.items() if isinstance(value, dict)}
        current = history.get("currentId")
        return messages, current if current in messages else None
    messages = {}
    parent: str | None = None
    for item in chat.get("messages") or []:
        if not isinstance(item, dict):
            continue
        message_id = item.get("id") if isinstance(item.get("id"), str) else str(uuid.uuid4())
        messages[message_id] = {**item, "id": message_id, "parentId": parent, "childrenIds": []}
        if parent is not None:
            messages[parent]["childrenIds"].append(message_id)
        parent = message_id
    return messages, parent


def _branch(messages: dict[str, Message], current: str | None) -> list[Message]:
    branch: list[Message] = []
    seen: set[str] = set()
    while current is not None and current in messages and current not in seen:
        seen.add(current)
        branch.append(messages[current])
        parent = messages[current].get("parentId")
        current = parent if isinstance(parent, str) else None
    return branch[::-1]


def _with(
    chat: dict[str, Any], messages: dict[str, Message], current: str | None
) -> dict[str, Any]:
    return {
        **chat,
        "history": {"messages": messages, "currentId": current},
        "messages": _branch(messages, current),
    }


def _adopt(messages: dict[str, Message], parent: str | None, child: str) -> None:
    if parent is None or parent not in messages:
        return
    children = messages[parent].get("childrenIds")
    children = list(children) if isinstance(children, list) else []
    if child not in children:
        children.append(child)
    messages[parent] = {**messages[parent], "childrenIds": children}


def add_exchange(chat: dict[str, Any], exchange: Exchange, now: int) -> dict[str, Any]:
    """``chat`` with the prompt (unless stored already) and the answer, shown as current.

    A prompt that is new hangs under the current message; an answer under its prompt. An
    answer stored before under the same id (the client retried) is replaced, except by an
    interrupted one: a client that stopped the stream and saved what it showed has the
    last word on what the person saw, and ``chat`` is given back unchanged.
    """
    messages, current = _tree(chat)
    stored = messages.get(exchange.answer_id)
    if not exchange.done and stored is not None and stored.get("content"):
        return chat
    parent = current
    if exchange.prompt_id is not None and exchange.prompt_id in messages:
        parent = exchange.prompt_id
    elif exchange.prompt is not None:
        prompt_id = exchange.prompt_id or str(uuid.uuid4())
        messages[prompt_id] = {
            "id": prompt_id,
            "parentId": current,
            "childrenIds": [],
            "role": "user",
            "content": exchange.prompt,
            "timestamp": now,
            "models": [exchange.model],
        }
        _adopt(messages, current, prompt_id)
        parent = prompt_id
    answer: Message = {
        "id": exchange.answer_id,
        "parentId": parent,
        "childrenIds": [],
        "role": "assistant",
        "content": exchange.answer,
        "model": exchange.model,
        "timestamp": now,
        "done": exchange.done,
    }
    if exchange.error is not None:
        answer["error"] = {"content": exchange.error}
    messages[exchange.answer_id] = answer
    _adopt(messages, parent, exchange.answer_id)
    return _with(chat, messages, exchange.answer_id)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # parts: {"type": "text", "text": ...}, images, files
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def search_text(title: str, chat: dict[str, Any]) -> str:
    """What a search matches in a chat: its title and every message's text, case-folded.

    Folded here rather than by the database, so that SQLite (whose ``lower`` knows only
    ASCII) and PostgreSQL find the same chats.
    """
    messages, _ = _tree(chat)
    texts = [title, *(_text_of(message.get("content")) for message in messages.values())]
    return "\n".join(text for text in texts if text).casefold()


class NoSuchMessage(LookupError):
    pass


def edit_message(chat: dict[str, Any], message_id: str, content: Any) -> dict[str, Any]:
    """``chat`` with one message's content replaced; the rest of the tree as it was."""
    messages, current = _tree(chat)
    if message_id not in messages:
        raise NoSuchMessage(message_id)
    messages[message_id] = {**messages[message_id], "content": content}
    return _with(chat, messages, current)


def delete_message(chat: dict[str, Any], message_id: str) -> dict[str, Any]:
    """``chat`` without one message: its replies take its place under its parent.

    When it was the message shown, the branch shown becomes the latest reply left there
    (followed to its end), or the parent itself.
    """
    messages, current = _tree(chat)
    if message_id not in messages:
        raise NoSuchMessage(message_id)
    removed = messages.pop(message_id)
    parent = removed.get("parentId") if removed.get("parentId") in messages else None
    children = [c for c in removed.get("childrenIds") or [] if c in messages]
    for child in children:
        messages[child] = {**messages[child], "parentId": parent}
    if parent is not None:
        siblings = list(messages[parent].get("childrenIds") or [])
        at = siblings.index(message_id) if message_id in siblings else len(siblings)
        siblings[at : at + 1] = children
        messages[parent] = {**messages[parent], "childrenIds": siblings}
    if current == message_id:
        current = children[-1] if children else parent
        while current is not None and messages[current].get("childrenIds"):
            current = messages[current]["childrenIds"][-1]
    return _with(chat, messages, current)
