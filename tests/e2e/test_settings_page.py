"""The settings page: the profile name and picture, a password refused by the policy, API
keys (offered only with the permission)."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import WIDTHS, Account, PageProblems, Served


def _settings(new_context: Callable[..., BrowserContext], account: Account, width: str) -> Page:
    page = new_context(width=width, account=account).new_page()
    page.goto("/settings")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    return page


@pytest.mark.parametrize("width", list(WIDTHS))
def test_settings_page_renders_without_problems(
    width: str,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = _settings(new_context, make_user("Sam <b>Settings</b>"), width)
    expect(page.locator("#profile-form").get_by_label("Name")).to_have_value("Sam <b>Settings</b>")
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    screenshot(page, f"settings-{width}")


def test_the_profile_name_is_saved(
    served: Served, make_user: Callable[..., Account], new_context: Callable[..., BrowserContext]
) -> None:
    user = make_user("Old Name")
    page = _settings(new_context, user, "laptop")
    page.locator("#profile-form").get_by_label("Name").fill("<img src=x onerror=alert(1)> New")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status").filter(has_text="Name saved.")).to_be_visible()
    assert served.query("SELECT name FROM users WHERE id = ?", user.id) == [
        ("<img src=x onerror=alert(1)> New",)
    ]
    page.reload()
    expect(page.locator(".account-name")).to_have_text("<img src=x onerror=alert(1)> New")


def test_a_password_refused_by_the_policy_shows_its_message(
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
) -> None:
    # The refusal itself: the browser logs the 400 it fetched.
    problems.allow(r"status of 400 \(Bad Request\)")
    user = make_user("Pat Password")
    before = served.query("SELECT password_hash FROM users WHERE id = ?", user.id)
    page = _settings(new_context, user, "laptop")
    page.get_by_label("Current password").fill(user.password)
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-error")).to_have_text(
        "The password must be at least 8 characters long."
    )
    assert served.query("SELECT password_hash FROM users WHERE id = ?", user.id) == before

    page.get_by_label("New password", exact=True).fill("a much better passphrase 42")
    page.get_by_label("New password again").fill("a much better passphrase 42")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").filter(has_text="Password changed.")).to_be_visible()
    assert served.query("SELECT password_hash FROM users WHERE id = ?", user.id) != before
    # The page's session is the new one: it still works after the change.
    page.reload()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()


def test_an_api_key_is_shown_once_works_and_is_refused_after_revoke(
    served: Served,
    api: httpx.Client,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = make_user("Kim Keys")
    page = _settings(new_context, user, "laptop")
    form = page.locator("#key-form")
    form.get_by_label("Name").fill("laptop script")
    form.get_by_label("Expires").select_option("30")
    form.get_by_label("Allowed paths").fill("/api/chat/completions, /api/models")
    form.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("New API key")
    expect(shown).to_have_value(re.compile(r"^sk-"))
    key = shown.input_value()
    row = page.get_by_role("row").filter(has_text="laptop script")
    expect(row).to_contain_text("/api/chat/completions, /api/models")
    expect(row).to_contain_text("never")  # not used yet
    assert key not in row.inner_text()
    screenshot(page, "settings-new-key")

    client = openai.OpenAI(base_url=f"{served.url}/api", api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="gpt-normal", messages=[{"role": "user", "content": "Hello"}]
    )
    assert answer.choices[0].message.content

    # Shown once: a reload lists the key by its prefix only, now with its last use.
    page.reload()
    row = page.get_by_role("row").filter(has_text="laptop script")
    expect(row).not_to_contain_text("never")
    expect(page.get_by_label("New API key")).to_be_hidden()
    assert key not in page.content()

    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("laptop script")
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="gpt-normal", messages=[{"role": "user", "content": "Hello"}]
        )
    assert api.get("/api/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def _png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG of ``width`` by ``height`` grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _picture(served: Served, user: Account) -> str:
    [(url,)] = served.query("SELECT profile_image_url FROM users WHERE id = ?", user.id)
    return str(url)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_profile_picture_is_read_in_the_browser_saved_and_a_false_one_refused(
    width: str,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
    screenshot: Callable[[Page, str], Path],
) -> None:
    problems.allow(r"status of 422")
    user = make_user("Pia Picture")
    page = _settings(new_context, user, width)
    expect(page.get_by_text("No picture.")).to_be_visible()
    chooser = page.get_by_label("Choose a picture")
    png = _png()
    chooser.set_input_files(files=[{"name": "me.png", "mimeType": "image/png", "buffer": png}])
    expect(page.get_by_role("status").filter(has_text="Picture saved.")).to_be_visible()
    stored = "data:image/png;base64," + base64.b64encode(png).decode()
    assert _picture(served, user) == stored
    expect(page.get_by_role("img", name="Your profile picture")).to_have_attribute("src", stored)
    screenshot(page, f"settings-picture-{width}")

    # Text named .png: the server reads the bytes and refuses; the stored picture stays.
    chooser.set_input_files(
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"<svg onload=alert(1)>"}]
    )
    alert = page.locator("#picture-error")
    expect(alert).to_have_text("The picture's bytes are not image/png.")
    chooser.set_input_files(
        files=[{"name": "big.png", "mimeType": "image/png", "buffer": png + b"\x00" * 300_000}]
    )
    expect(alert).to_have_text(re.compile(r"^The picture is larger than 256 KiB"))
    assert _picture(served, user) == stored

    # A new name keeps the picture.
    page.locator("#profile-form").get_by_label("Name").fill("Pia Pictured")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status").filter(has_text="Name saved.")).to_be_visible()
    assert served.query("SELECT name FROM users WHERE id = ?", user.id) == [("Pia Pictured",)]
    assert _picture(served, user) == stored

    page.get_by_role("button", name="Remove picture").click()
    expect(page.get_by_text("No picture.")).to_be_visible()
    assert _picture(served, user) == ""


def test_api_keys_are_offered_only_with_the_permission(
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    monkeypatch: pytest.MonkeyPatch,
    screenshot: Callable[[Page, str], Path],
) -> None:
    # As USER_PERMISSIONS_FEATURES_API_KEYS=false: the permission only through a group.
    permissions = served.services.permissions
    monkeypatch.setattr(permissions, "defaults", permissions.defaults - {"features.api_keys"})
    user = make_user("Nell Nokeys")
    page = _settings(new_context, user, "laptop")
    expect(page.get_by_text("Your account may not create API keys")).to_be_visible()
    expect(page.get_by_role("button", name="Create key")).to_be_hidden()
    expect(page.get_by_text("No API keys yet.")).to_be_hidden()
    screenshot(page, "settings-no-keys")
    refused = api.post("/api/v1/auths/api_key", json={"name": "sneaky"}, headers=user.auth)
    assert refused.status_code == 403, refused.text

    made = api.post(
        "/api/v1/groups/create",
        json={"name": "Key makers", "permissions": {"features": {"api_keys": True}}},
        headers=admin.auth,
    )
    assert made.status_code == 200, made.text
    added = api.post(
        f"/api/v1/groups/id/{made.json()['id']}/users/add",
        json={"user_ids": [user.id]},
        headers=admin.auth,
    )
    assert added.status_code == 200, added.text
    page.reload()
    expect(page.get_by_role("button", name="Create key")).to_be_visible()
    expect(page.get_by_text("Your account may not create API keys")).to_be_hidden()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_label("New API key")).to_have_value(re.compile(r"^sk-"))
    assert served.query("SELECT COUNT(*) FROM api_keys WHERE user_id = ?", user.id) == [(1,)]
