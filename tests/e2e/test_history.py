"""The history sidebar: rename and delete, search over titles and messages, pinning and
archiving."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import Account, Served, create_chat


def test_a_chat_is_renamed_and_deleted_from_the_sidebar(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    user = make_user("Rhea Rename")
    kept = create_chat(api, user, "Draft", "First words")
    gone = create_chat(api, user, "Scratch", "Throw this away")
    page = new_context(account=user).new_page()
    page.goto("/")
    chats = page.get_by_role("list", name="Chats")
    expect(chats.get_by_role("link")).to_have_text(["Scratch", "Draft"])

    # From the keyboard: focus brings a row's actions into sight.
    chats.get_by_role("button", name="Rename Draft").focus()
    page.keyboard.press("Enter")
    title = chats.get_by_role("textbox", name="New title")
    expect(title).to_be_focused()
    title.fill("Letter to <b>Ann</b>")
    title.press("Enter")
    expect(chats.get_by_role("link")).to_have_text(["Letter to <b>Ann</b>", "Scratch"])
    page.reload()
    expect(chats.get_by_role("link")).to_have_text(["Letter to <b>Ann</b>", "Scratch"])
    assert served.query("SELECT title FROM chats WHERE id = ?", kept) == [("Letter to <b>Ann</b>",)]

    chats.get_by_role("listitem").filter(has_text="Scratch").hover()
    delete = chats.get_by_role("button", name="Delete Scratch")
    delete.click()
    # The first press only arms the button (and says so): nothing is gone yet.
    expect(delete).to_have_text("Confirm delete")
    expect(page.get_by_role("status").filter(has_text="Press again to delete.")).to_be_visible()
    assert served.query("SELECT count(*) FROM chats WHERE id = ?", gone) == [(1,)]
    delete.click()
    expect(chats.get_by_role("link")).to_have_text(["Letter to <b>Ann</b>"])
    assert served.query("SELECT count(*) FROM chats WHERE id = ?", gone) == [(0,)]
    assert api.get(f"/api/v1/chats/{gone}", headers=user.auth).status_code == 404
    page.reload()
    expect(chats.get_by_role("link")).to_have_text(["Letter to <b>Ann</b>"])


def test_search_finds_message_text_and_pinned_and_archived_chats_move(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot,
) -> None:
    user = make_user("Hal History")
    trip = create_chat(api, user, "Trip", "Which museums open on Monday?")
    create_chat(api, user, "Budget", "Numbers for <b>March</b>")
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
