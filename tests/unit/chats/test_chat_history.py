"""open-webui's message tree, changed by pure functions: odd stored shapes included."""

from __future__ import annotations

import pytest

from bastion.chats.history import (
    Exchange,
    NoSuchMessage,
    add_exchange,
    delete_message,
    edit_message,
    search_text,
)


def _exchange(**fields: object) -> Exchange:
    values: dict = {"answer_id": "a", "answer": "Hi.", "model": "m", "done": True, **fields}
    return Exchange(**values)


def test_an_exchange_in_an_empty_chat_is_the_whole_branch() -> None:
    chat = add_exchange({"title": "T"}, _exchange(prompt_id="p", prompt="hello"), 7)
    assert chat["title"] == "T"
    assert chat["history"]["currentId"] == "a"
    assert chat["messages"] == [
        {
            "id": "p",
            "parentId": None,
            "childrenIds": ["a"],
            "role": "user",
            "content": "hello",
            "timestamp": 7,
            "models": ["m"],
        },
        {
            "id": "a",
            "parentId": "p",
            "childrenIds": [],
            "role": "assistant",
            "content": "Hi.",
            "model": "m",
            "timestamp": 7,
            "done": True,
        },
    ]


def test_an_exchange_without_a_prompt_answers_the_current_message() -> None:
    chat = add_exchange({}, _exchange(prompt_id="p", prompt="hello"), 1)
    again = add_exchange(chat, _exchange(answer_id="b", prompt=None, error="down"), 2)
    assert again["history"]["messages"]["b"]["parentId"] == "a"
    assert again["history"]["messages"]["b"]["error"] == {"content": "down"}
    assert again["history"]["messages"]["a"]["childrenIds"] == ["b"]


def test_a_new_prompt_without_an_id_gets_one_and_hangs_under_the_current_message() -> None:
    chat = add_exchange({}, _exchange(prompt_id="p", prompt="hello"), 1)
    chat = add_exchange(chat, _exchange(answer_id="b", prompt="more"), 2)
    branch = chat["messages"]
    assert [m["role"] for m in branch] == ["user", "assistant", "user", "assistant"]
    assert branch[2]["parentId"] == "a" and len(branch[2]["id"]) == 36


def test_a_tree_with_a_cycle_or_dangling_entries_still_gives_a_finite_branch() -> None:
    chat = {
        "history": {
            "messages": {
                "x": {"id": "x", "parentId": "y", "content": "one"},
                "y": {"id": "y", "parentId": "x", "content": "two"},
                "junk": "not a message",
            },
            "currentId": "x",
        }
    }
    edited = edit_message(chat, "x", "changed")
    assert [(m["id"], m["content"]) for m in edited["messages"]] == [("y", "two"), ("x", "changed")]
    assert "junk" not in edited["history"]["messages"]
    missing_current = {"history": {"messages": {}, "currentId": "gone"}}
    assert add_exchange(missing_current, _exchange(), 1)["messages"][0]["parentId"] is None


def test_a_list_without_ids_gets_ids_and_non_messages_are_dropped() -> None:
    chat = {"messages": [{"role": "user", "content": "a"}, "junk", {"id": "b", "content": "b"}]}
    changed = edit_message(chat, "b", "B")
    assert [m["content"] for m in changed["messages"]] == ["a", "B"]
    assert changed["messages"][1]["parentId"] == changed["messages"][0]["id"]


def test_editing_or_deleting_an_unknown_message_raises() -> None:
    with pytest.raises(NoSuchMessage):
        edit_message({}, "nope", "x")
    with pytest.raises(NoSuchMessage):
        delete_message({}, "nope")


def test_deleting_the_root_makes_its_replies_roots() -> None:
    chat = add_exchange({}, _exchange(prompt_id="p", prompt="hello"), 1)
    changed = delete_message(chat, "p")
    assert changed["history"]["messages"] == {
        "a": {**chat["history"]["messages"]["a"], "parentId": None}
    }
    assert [m["id"] for m in changed["messages"]] == ["a"]


def test_search_text_holds_the_title_and_all_text_case_folded() -> None:
    chat = {
        "messages": [
            {"content": "Straße"},
            {"content": [{"type": "text", "text": "ONE"}, {"type": "image_url"}, "junk"]},
            {"content": None},
        ]
    }
    assert search_text("Title", chat) == "title\nstrasse\none"


def test_an_interrupted_answer_leaves_the_one_the_client_saved() -> None:
    chat = add_exchange({}, _exchange(prompt_id="p", prompt="hello", answer="Hel"), 1)
    later = add_exchange(chat, _exchange(prompt_id="p", answer="Hello, wor", done=False), 2)
    assert later is chat
    # A placeholder the client stored empty (open-webui's) is filled in.
    placeholder = edit_message(chat, "a", "")
    filled = add_exchange(placeholder, _exchange(prompt_id="p", answer="Hel", done=False), 3)
    assert filled["history"]["messages"]["a"]["content"] == "Hel"
