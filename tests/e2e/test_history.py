"""The history sidebar: search over titles and messages, pinning and archiving."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import Account, Served


def _chat(api: httpx.Client, account: Account, title: str, text: str) -> str:
    chat = {"title": title, "messages": [{"id": title, "role": "user", "content": text}]}
    answer = api.post("/api/v1/chats/new", json={"chat": chat}, headers=account.auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_search_finds_message_text_and_pinned_and_archived_chats_move(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot,
) -> None:
    user = make_user("Hal History")
    trip = _chat(api, user, "Trip", "Which museums open on Monday?")
    _chat(api, user, "Budget", "Numbers for <b>March</b>")
    page = new_context(account=user).new_page()
    page.goto("/")
    chats = page.get_by_role("list", name="Chats")
    expect(chats.get_by_role("link")).to_have_count(2)

    page.get_by_label("Search chats").fill("MUSEUMS")
    expect(chats.get_by_role("link")).to_have_text(["Trip"])
    page.get_by_label("Search chats").fill("nothing like this")
    expect(page.get_by_role("status").filter(has_text="No chat matches.")).to_be_visible()
    page.get_by_label("Search chats").fill("")
    expect(chats.get_by_role("link")).to_have_count(2)

    # A chat's actions show on hover or focus. Pinned goes first (Budget, newer, was).
    chats.get_by_role("listitem").filter(has_text="Trip").hover()
    chats.get_by_role("button", name="Pin Trip").click()
    expect(chats.get_by_role("link")).to_have_text(["Trip", "Budget"])
    assert served.query("SELECT pinned FROM chats WHERE id = ?", trip) == [(1,)]
    screenshot(page, "history-pinned")

    chats.get_by_role("listitem").filter(has_text="Trip").hover()
    chats.get_by_role("button", name="Archive Trip").click()
    expect(chats.get_by_role("link")).to_have_text(["Budget"])
    page.get_by_role("button", name="Archived chats").click()
    archived = page.get_by_role("list", name="Archived chats")
    expect(archived.get_by_role("link")).to_have_text(["Trip"])
    archived.get_by_role("listitem").filter(has_text="Trip").hover()
    archived.get_by_role("button", name="Unarchive Trip").click()
    expect(page.get_by_role("status").filter(has_text="No archived chats.")).to_be_visible()
    assert served.query("SELECT archived FROM chats WHERE id = ?", trip) == [(0,)]
    page.get_by_role("button", name="All chats").click()
    expect(chats.get_by_role("link")).to_have_text(["Trip", "Budget"])
