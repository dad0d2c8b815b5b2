"""The groups page: a group created, renamed and described, its permissions switched,
members added and removed, and deleted only once confirmed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import WIDTHS, Account


def _groups_page(
    new_context: Callable[..., BrowserContext], admin: Account, width: str = "laptop"
) -> Page:
    page = new_context(width=width, account=admin).new_page()
    page.goto("/admin/groups")
    expect(page.locator("#groups-status")).not_to_have_text(re.compile("^Loading"))
    return page


def _group(api: httpx.Client, admin: Account, name: str) -> dict[str, object]:
    groups = api.get("/api/v1/groups/", headers=admin.auth).json()
    [group] = [group for group in groups if group["name"] == name]
    return group  # type: ignore[no-any-return]


def _members(api: httpx.Client, admin: Account, group_id: object) -> list[str]:
    answer = api.post(f"/api/v1/groups/id/{group_id}/users", headers=admin.auth)
    assert answer.status_code == 200, answer.text
    return [user["id"] for user in answer.json()]


def test_a_group_is_created_configured_and_given_members(
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    member = make_user("Gil Grouped")
    page = _groups_page(new_context, admin)
    page.get_by_text("New group").click()
    create = page.locator("#group-create")
    create.get_by_label("Group name").fill("Research <b>team</b>")
    create.get_by_label("Description").fill("Reads papers")
    create.get_by_role("button", name="Create group").click()
    card = page.get_by_role("region", name="Research <b>team</b>")
    expect(card).to_be_visible()
    group = _group(api, admin, "Research <b>team</b>")
    assert group["description"] == "Reads papers"

    settings = card.get_by_role("form", name=re.compile("^Settings of"))
    settings.get_by_label("Group name").fill("Research")
    settings.get_by_label("Description").fill("Reads and writes papers")
    settings.get_by_role("checkbox", name=re.compile("Create API keys")).check()
    settings.get_by_role("checkbox", name=re.compile("Share chats")).check()
    settings.get_by_role("button", name="Save group").click()
    expect(page.get_by_role("status").filter(has_text="Group Research saved.")).to_be_visible()
    saved = api.get(f"/api/v1/groups/id/{group['id']}", headers=admin.auth).json()
    assert (saved["name"], saved["description"]) == ("Research", "Reads and writes papers")
    assert saved["permissions"] == {
        "features": {"api_keys": True, "web_fetch": False},
        "chat": {"file_upload": False, "share": True},
    }

    card = page.get_by_role("region", name="Research", exact=True)
    card.get_by_label("Add a member").select_option(label=f"Gil Grouped ({member.email})")
    card.get_by_role("button", name="Add", exact=True).click()
    expect(card.get_by_role("list", name="Members of Research")).to_contain_text("Gil Grouped")
    assert _members(api, admin, group["id"]) == [member.id]
    own = api.get("/api/v1/users/groups", headers=member.auth).json()
    assert [g["name"] for g in own] == ["Research"]
    screenshot(page, "admin-groups-member")

    card.get_by_role("button", name="Remove Gil Grouped from Research").click()
    expect(card.get_by_text("No members yet.")).to_be_visible()
    assert _members(api, admin, group["id"]) == []


def test_a_group_is_deleted_only_when_confirmed(
    api: httpx.Client,
    admin: Account,
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    made = api.post("/api/v1/groups/create", json={"name": "Doomed"}, headers=admin.auth)
    assert made.status_code == 200, made.text
    group_id = made.json()["id"]
    page = _groups_page(new_context, admin)
    card = page.get_by_role("region", name="Doomed", exact=True)
    card.get_by_role("button", name="Delete group").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete the group Doomed?")
    screenshot(page, "admin-groups-delete")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert api.get(f"/api/v1/groups/id/{group_id}", headers=admin.auth).status_code == 200

    card.get_by_role("button", name="Delete group").click()
    dialog.get_by_role("button", name="Delete group").click()
    expect(card).to_have_count(0)
    assert api.get(f"/api/v1/groups/id/{group_id}", headers=admin.auth).status_code == 404


def test_groups_page_fits_both_widths(
    api: httpx.Client,
    admin: Account,
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    api.post("/api/v1/groups/create", json={"name": "Wide and narrow"}, headers=admin.auth)
    for width in WIDTHS:
        page = _groups_page(new_context, admin, width)
        card = page.get_by_role("region", name="Wide and narrow").first
        expect(card).to_be_visible()
        main = page.locator(".main")
        assert main.evaluate("(main) => main.scrollWidth - main.clientWidth") <= 0
        screenshot(page, f"admin-groups-{width}")


def test_a_group_member_is_added_by_keyboard_in_the_dark(
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    member = make_user("Quinn Keys")
    made = api.post("/api/v1/groups/create", json={"name": "Keyboarders"}, headers=admin.auth)
    group_id = made.json()["id"]
    page = new_context(account=admin).new_page()
    page.emulate_media(color_scheme="dark")
    page.goto("/admin/groups")
    card = page.get_by_role("region", name="Keyboarders", exact=True)
    picker = card.get_by_label("Add a member")
    picker.focus()
    page.keyboard.type("Quinn Keys")
    expect(picker).to_have_value(member.id)
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name="Add", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(card.get_by_role("list", name="Members of Keyboarders")).to_contain_text("Quinn Keys")
    expect(card.get_by_label("Add a member")).to_be_focused()
    assert _members(api, admin, group_id) == [member.id]
    screenshot(page, "admin-groups-dark")
