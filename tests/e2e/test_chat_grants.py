"""Sharing a chat with given people and groups from the chat page: who may read it is
what the API keeps, the reader finds it under "Shared with me" and reads it read-only,
and a revoked grant ends that."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import WIDTHS, Account, PageProblems, create_chat


def _access(api: httpx.Client, owner: Account, chat_id: str) -> list[tuple[str, str]]:
    answer = api.get(f"/api/v1/chats/shared/{chat_id}/access", headers=owner.auth)
    assert answer.status_code == 200, answer.text
    return sorted((g["principal_type"], g["principal_id"]) for g in answer.json()["access_grants"])


def _share_panel(page: Page, chat_id: str) -> None:
    page.goto(f"/c/{chat_id}")
    button = page.get_by_role("button", name="Share with people")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("region", name="Shared with people")).to_be_visible()


def _open_shared(page: Page, title: str, width: str) -> None:
    """From the sidebar's "Shared with me", as the reader would (the menu on a phone)."""
    page.goto("/")
    if width == "phone":
        page.get_by_role("button", name="Menu").click()
    sidebar = page.get_by_role("list", name="Shared with me")
    sidebar.get_by_role("link", name=title).click()
    page.wait_for_url(re.compile(r"/shared/[^/]+$"))


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_chat_shared_with_a_group_and_an_account_id_is_read_only_until_revoked(
    width: str,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
    screenshot: Callable[[Page, str], Path],
) -> None:
    problems.allow(r"status of 404")  # the reader's page after the grant is revoked
    owner = make_user("Otto Owner")
    reader = make_user("Rhea Reader")
    other = make_user("Omar Other")
    made = api.post("/api/v1/groups/create", json={"name": f"Readers {width}"}, headers=admin.auth)
    group_id = made.json()["id"]
    added = api.post(
        f"/api/v1/groups/id/{group_id}/users/add",
        json={"user_ids": [owner.id, reader.id]},
        headers=admin.auth,
    )
    assert added.status_code == 200, added.text
    title = f"Trip notes {width}"
    chat_id = create_chat(api, owner, title, "Pack the <b>tent</b>?", "Yes, and the stove.")

    page = new_context(width=width, account=owner).new_page()
    _share_panel(page, chat_id)
    panel = page.get_by_role("region", name="Shared with people")
    expect(panel.get_by_role("status")).to_have_text("Not shared with anyone yet.")
    panel.get_by_label("Share with").select_option(label=f"Readers {width}")
    panel.get_by_role("button", name="Grant read access").click()
    expect(panel.get_by_role("list", name="Who can read this chat")).to_contain_text(
        f"Group Readers {width}"
    )
    assert _access(api, owner, chat_id) == [("group", group_id)]

    # Not an admin: someone outside the owner's groups is named by their account id.
    panel.get_by_label("Share with").select_option(label="Someone, by account id")
    panel.get_by_label("Account id").fill(other.id)
    panel.get_by_role("button", name="Grant read access").click()
    expect(panel.get_by_role("list", name="Who can read this chat").locator("li")).to_have_count(2)
    assert _access(api, owner, chat_id) == sorted([("group", group_id), ("user", other.id)])
    screenshot(page, f"chat-grants-{width}")

    shared = new_context(width=width, account=reader).new_page()
    _open_shared(shared, title, width)
    expect(shared.get_by_role("heading", name=title)).to_be_visible()
    expect(shared.get_by_role("status")).to_have_text("Read-only.")
    expect(shared.get_by_role("log", name="Messages").locator(".message .content")).to_have_text(
        ["Pack the <b>tent</b>?", "Yes, and the stove."]
    )
    main = shared.get_by_role("main")
    expect(main.get_by_role("textbox")).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)
    screenshot(shared, f"chat-granted-{width}")

    panel.get_by_role("button", name=f"Revoke Group Readers {width}").click()
    expect(panel.get_by_role("list", name="Who can read this chat").locator("li")).to_have_count(1)
    assert _access(api, owner, chat_id) == [("user", other.id)]
    shared.reload()
    expect(shared.get_by_role("status")).to_have_text(
        "This chat is not shared with you, or no longer exists."
    )
    expect(shared.get_by_text("Yes, and the stove.")).to_have_count(0)
    gone = api.get(f"/api/v1/chats/shared/{chat_id}", headers=reader.auth)
    assert gone.status_code == 404, gone.text
    assert api.get(f"/api/v1/chats/shared/{chat_id}", headers=other.auth).status_code == 200


def test_an_admin_picks_a_person_to_share_with(
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    reader = make_user("Pete Picked")
    chat_id = create_chat(api, admin, "Admin memo", "Budget?", "Approved.")
    page = new_context(account=admin).new_page()
    _share_panel(page, chat_id)
    panel = page.get_by_role("region", name="Shared with people")
    panel.get_by_label("Share with").select_option(label=f"Pete Picked ({reader.email})")
    panel.get_by_role("button", name="Grant read access").click()
    expect(panel.get_by_role("list", name="Who can read this chat")).to_contain_text("Pete Picked")
    assert _access(api, admin, chat_id) == [("user", reader.id)]
    listed = api.get("/api/v1/chats/shared", headers=reader.auth).json()
    assert [chat["id"] for chat in listed] == [chat_id]

    panel.get_by_role("button", name=f"Revoke Pete Picked ({reader.email})").click()
    expect(panel.get_by_role("status")).to_have_text("Not shared with anyone yet.")
    assert _access(api, admin, chat_id) == []
    assert api.get("/api/v1/chats/shared", headers=reader.auth).json() == []


def test_sharing_with_people_by_keyboard_alone_in_the_dark(
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    reader = make_user("Kay Keyboard")
    chat_id = create_chat(api, admin, "Keyboard memo", "Tab?", "Enter.")
    page = new_context(account=admin).new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(f"/c/{chat_id}")
    button = page.get_by_role("button", name="Share with people")
    expect(button).to_be_enabled()
    button.focus()
    page.keyboard.press("Enter")
    picker = page.get_by_label("Share with")
    expect(picker).to_be_focused()
    expect(picker.locator("option", has_text="Kay Keyboard")).to_have_count(1)
    # A closed <select> takes the first letters typed as the option to choose.
    page.keyboard.type("Kay Keyboard")
    expect(picker).to_have_value(f"user:{reader.id}")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Grant read access")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=re.compile("^Revoke Kay Keyboard"))).to_be_visible()
    assert _access(api, admin, chat_id) == [("user", reader.id)]
    screenshot(page, "chat-grants-dark")
    page.keyboard.press("Escape")
    expect(page.get_by_role("region", name="Shared with people")).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")
