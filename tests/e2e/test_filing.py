"""Filing chats on the chat page: tags (and the sidebar filtered by one), folders, and one
message edited or deleted; each change is read back from the database or the API."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import APIResponse, BrowserContext, Page, Route, expect

from tests.e2e.harness import WIDTHS, Account, PageProblems, Served, create_chat

TAG = "Work <i>2026</i>"
FOLDER = "Money & <b>bills</b>"


def test_tags_are_added_and_removed_and_filter_the_sidebar(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
) -> None:
    user = make_user("Tess Tags")
    taxes = create_chat(api, user, "Tax return", "Which forms?")
    create_chat(api, user, "Garden", "When to plant tulips?")
    page = new_context(account=user).new_page()
    page.goto(f"/c/{taxes}")
    tags = page.get_by_role("list", name="Tags of this chat")
    expect(tags.get_by_role("listitem")).to_have_count(0)

    page.get_by_label("Add tag").fill(TAG)
    page.get_by_label("Add tag").press("Enter")
    expect(tags.get_by_role("listitem").locator("span")).to_have_text([TAG])
    expect(page.get_by_label("Add tag")).to_have_value("")
    page.get_by_label("Add tag").fill("urgent")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(tags.get_by_role("listitem")).to_have_count(2)
    assert served.query(
        "SELECT name FROM chat_tags WHERE chat_id = ? ORDER BY added_at", taxes
    ) == [(TAG,), ("urgent",)]

    tags.get_by_role("button", name="Remove tag urgent").click()
    expect(tags.get_by_role("listitem").locator("span")).to_have_text([TAG])
    assert served.query("SELECT name FROM chat_tags WHERE chat_id = ?", taxes) == [(TAG,)]
    # A name the API refuses: its words, on the page, and no tag more.
    problems.allow(r"status of 422")
    page.get_by_label("Add tag").fill("None")
    page.get_by_label("Add tag").press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Invalid request: name.")
    assert served.query("SELECT name FROM chat_tags WHERE chat_id = ?", taxes) == [(TAG,)]

    chats = page.get_by_role("list", name="Chats")
    expect(chats.get_by_role("link")).to_have_text(["Garden", "Tax return"])
    page.get_by_label("Filter by tag").select_option(label=TAG)
    expect(chats.get_by_role("link")).to_have_text(["Tax return"])
    page.get_by_label("Filter by tag").select_option(label="All chats")
    expect(chats.get_by_role("link")).to_have_text(["Garden", "Tax return"])
    tagged = api.post("/api/v1/chats/tags", json={"name": TAG}, headers=user.auth).json()
    assert [chat["id"] for chat in tagged["chats"]] == [taxes]

    # Kept over a reload: the chat's tags come from the API.
    page.reload()
    expect(tags.get_by_role("listitem").locator("span")).to_have_text([TAG])


def test_a_tag_added_while_the_chat_loads_is_not_undone_by_the_load(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    user = make_user("Quinn Quick")
    chat = create_chat(api, user, "Fast", "Hello")
    page = new_context(account=user).new_page()
    held: list[tuple[Route, APIResponse]] = []

    def hold_the_load(route: Route) -> None:
        if route.request.method != "GET":
            route.continue_()
        else:  # answered now, no tags yet; handed to the page later
            held.append((route, route.fetch()))

    page.route(f"**/api/v1/chats/{chat}/tags", hold_the_load)
    page.goto(f"/c/{chat}")
    expect(page.get_by_label("Add tag")).to_be_visible()
    page.get_by_label("Add tag").fill("early")
    page.get_by_label("Add tag").press("Enter")
    tags = page.get_by_role("list", name="Tags of this chat")
    expect(tags.get_by_role("listitem").locator("span")).to_have_text(["early"])
    # The load's answer (asked before the tag was added: no tags) arrives last.
    ((load, answer),) = held
    assert answer.json() == []
    with page.expect_event("requestfinished", lambda r: r.method == "GET" and "/tags" in r.url):
        load.fulfill(response=answer)
    # Two frames later the page has read that answer and done what it does with it.
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    expect(tags.get_by_role("listitem").locator("span")).to_have_text(["early"])
    assert served.query("SELECT name FROM chat_tags WHERE chat_id = ?", chat) == [("early",)]


def test_folders_are_created_renamed_and_deleted_and_hold_chats(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    user = make_user("Finn Folders")
    create_chat(api, user, "Recipes", "Soup for four")
    invoices = create_chat(api, user, "Invoices", "March and April")
    page = new_context(account=user).new_page()
    page.goto(f"/c/{invoices}")
    folders = page.get_by_role("list", name="Folders")
    chats = page.get_by_role("list", name="Chats", exact=True)
    expect(chats.get_by_role("link")).to_have_text(["Invoices", "Recipes"])

    page.get_by_role("button", name="New folder").click()
    expect(page.get_by_label("Folder name")).to_be_focused()
    page.get_by_label("Folder name").fill(FOLDER)
    page.get_by_label("Folder name").press("Enter")
    toggle = folders.get_by_role("button", name=f"{FOLDER} (0)")
    expect(toggle).to_be_visible()
    ((folder_id, name),) = served.query("SELECT id, name FROM folders WHERE user_id = ?", user.id)
    assert name == FOLDER

    page.get_by_role("combobox", name="Folder").select_option(label=FOLDER)
    expect(chats.get_by_role("link")).to_have_text(["Recipes"])
    assert served.query("SELECT folder_id FROM chats WHERE id = ?", invoices) == [(folder_id,)]
    toggle = folders.get_by_role("button", name=f"{FOLDER} (1)")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    inside = page.get_by_role("list", name=f"Chats in {FOLDER}")
    expect(inside.get_by_role("link")).to_have_text(["Invoices"])
    expect(toggle).to_be_focused()
    # The folder stays open over a reload: the API keeps it.
    page.reload()
    expect(inside.get_by_role("link")).to_have_text(["Invoices"])
    assert served.query("SELECT is_expanded FROM folders WHERE id = ?", folder_id) == [(1,)]

    folders.get_by_role("button", name=f"Rename folder {FOLDER}").focus()
    page.keyboard.press("Enter")
    page.get_by_role("textbox", name="New folder name").fill("Finance")
    page.keyboard.press("Enter")
    expect(folders.get_by_role("button", name="Finance (1)")).to_be_visible()
    assert served.query("SELECT name FROM folders WHERE id = ?", folder_id) == [("Finance",)]

    remove = folders.get_by_role("button", name="Delete folder Finance")
    remove.focus()
    page.keyboard.press("Enter")
    expect(remove).to_have_text("Confirm delete")
    page.keyboard.press("Enter")
    expect(folders.get_by_role("listitem")).to_have_count(0)
    # The folder is gone; its chat stays, in no folder.
    expect(chats.get_by_role("link")).to_have_text(["Invoices", "Recipes"])
    assert served.query("SELECT count(*) FROM folders WHERE user_id = ?", user.id) == [(0,)]
    assert served.query("SELECT folder_id FROM chats WHERE id = ?", invoices) == [(None,)]
    expect(page.get_by_role("combobox", name="Folder")).to_have_value("")


def _texts(api: httpx.Client, user: Account, chat_id: str) -> list[tuple[str, str]]:
    chat = api.get(f"/api/v1/chats/{chat_id}", headers=user.auth).json()["chat"]
    return [(message["id"], message["content"]) for message in chat["messages"]]


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_one_message_is_edited_and_another_deleted(
    width: str,
    api: httpx.Client,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot,
) -> None:
    user = make_user("Ed Edits")
    chat_id = create_chat(api, user, "Sums", "What is 2+2?", "5", "Are you sure?", "Yes.")
    page = new_context(width, account=user).new_page()
    page.goto(f"/c/{chat_id}")
    contents = page.get_by_role("log", name="Messages").locator(".message .content")
    expect(contents).to_have_text(["What is 2+2?", "5", "Are you sure?", "Yes."])

    page.get_by_role("button", name="Edit message 2").click()
    text = page.get_by_role("textbox", name="Text of message 2")
    expect(text).to_be_focused()
    expect(text).to_have_value("5")
    # Esc gives the message back unchanged.
    text.press("Escape")
    expect(text).to_have_count(0)
    expect(page.get_by_role("button", name="Edit message 2")).to_be_focused()
    page.keyboard.press("Enter")
    text.fill("4, *certainly*")
    screenshot(page, f"editing-{width}")
    page.get_by_role("button", name="Save").click()
    expect(contents).to_have_text(["What is 2+2?", "4, certainly", "Are you sure?", "Yes."])
    expect(contents.nth(1).locator("em")).to_have_text("certainly")

    delete = page.get_by_role("button", name="Delete message 3")
    delete.click()
    expect(delete).to_have_text("Confirm delete")
    delete.click()
    expect(contents).to_have_text(["What is 2+2?", "4, certainly", "Yes."])
    assert _texts(api, user, chat_id) == [
        ("Sums-0", "What is 2+2?"),
        ("Sums-1", "4, *certainly*"),
        ("Sums-3", "Yes."),
    ]
    page.reload()
    expect(contents).to_have_text(["What is 2+2?", "4, certainly", "Yes."])
    screenshot(page, f"edited-{width}")


@pytest.mark.parametrize("width", ["laptop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_filing_controls_fit_and_are_reachable(
    width: str,
    scheme: str,
    api: httpx.Client,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot,
) -> None:
    user = make_user("Wyn Widths")
    chat_id = create_chat(api, user, "Long " * 12, "A question", "An answer")
    folder = api.post("/api/v1/folders/", json={"name": "Projects"}, headers=user.auth).json()
    api.post(
        f"/api/v1/folders/{folder['id']}/update/expanded",
        json={"is_expanded": True},
        headers=user.auth,
    )
    api.post(f"/api/v1/chats/{chat_id}/folder", json={"folder_id": folder["id"]}, headers=user.auth)
    for tag in ("alpha", "a rather long tag name"):
        api.post(f"/api/v1/chats/{chat_id}/tags", json={"name": tag}, headers=user.auth)
    page = new_context(width, account=user).new_page()
    page.emulate_media(color_scheme=scheme)
    page.goto(f"/c/{chat_id}")
    expect(
        page.get_by_role("list", name="Tags of this chat").get_by_role("listitem")
    ).to_have_count(2)
    expect(page.get_by_role("combobox", name="Folder")).to_have_value(folder["id"])
    for control in (
        page.get_by_label("Add tag"),
        page.get_by_role("combobox", name="Folder"),
        page.get_by_role("button", name="Remove tag a rather long tag name"),
        page.get_by_role("button", name="Edit message 2"),
    ):
        _fits(page, control, width)
    screenshot(page, f"chat-{width}-{scheme}")
    if width == "phone":
        page.get_by_role("button", name="Menu").click()
    folders = page.get_by_role("list", name="Folders")
    expect(folders.get_by_role("button", name="Projects (1)")).to_be_visible()
    _fits(page, page.get_by_role("button", name="New folder"), width)
    _fits(page, page.get_by_label("Filter by tag"), width)
    screenshot(page, f"sidebar-{width}-{scheme}")


def _fits(page: Page, control, width: str) -> None:
    expect(control).to_be_visible()
    box = control.bounding_box()
    assert box is not None
    assert 0 <= box["x"] and box["x"] + box["width"] <= WIDTHS[width]["width"], box
