"""The sessions section of the settings page and the users page's sessions dialog: signed
in from two browsers, one revokes the other, which is signed out on its next request."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.harness import WIDTHS, Account, sign_in_in_browser


def _signed_in(new_context: Callable[..., BrowserContext], user: Account, width: str) -> Page:
    page = new_context(width=width).new_page()
    sign_in_in_browser(page, user.email)
    page.wait_for_url(re.compile(r"/$"))
    return page


def _sid(page: Page) -> str:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "token")
    # Only read here to find the row; the server verifies it.
    return str(jwt.decode(token, options={"verify_signature": False})["sid"])


def _row(page: Page, sid: str) -> Locator:
    return page.locator(f'#sessions-body tr[data-session-id="{sid}"]')


def test_revoking_the_other_browser_signs_it_out_on_its_next_request(
    api: httpx.Client,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    user = make_user("Sid Sessions")
    here = _signed_in(new_context, user, "laptop")
    there = _signed_in(new_context, user, "laptop")
    here.goto("/settings")
    expect(_row(here, _sid(here))).to_contain_text("This device")
    expect(_row(here, _sid(here)).get_by_role("button")).to_have_count(0)
    other = _row(here, _sid(there))
    expect(other).to_contain_text("Chrome")

    other.get_by_role("button", name=re.compile("^Revoke the session")).click()
    here.get_by_role("dialog").get_by_role("button", name="Revoke").click()

    expect(other).to_have_count(0)
    expect(here.get_by_role("status").filter(has_text="signed out.")).to_be_visible()
    there.goto("/settings")
    expect(there).to_have_url(re.compile(r"/auth(\?next=.*)?$"))
    expect(there.get_by_role("button", name="Sign in")).to_be_visible()
    # This browser is still signed in, and so is the session make_user opened by the API.
    here.reload()
    expect(_row(here, _sid(here))).to_contain_text("This device")
    assert api.get("/api/v1/auths/", headers=user.auth).status_code == 200

    here.get_by_role("button", name="Sign out all other sessions").click()
    here.get_by_role("dialog").get_by_role("button", name="Sign out others").click()

    expect(here.get_by_role("status").filter(has_text="1 session signed out.")).to_be_visible()
    assert api.get("/api/v1/auths/", headers=user.auth).status_code == 401
    expect(here.locator("#sessions-body tr")).to_have_count(1)
    expect(here.get_by_role("button", name="Sign out all other sessions")).to_be_hidden()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_sessions_section_and_admin_dialog_render(
    width: str,
    scheme: str,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = make_user(f"Vic Viewed {width} {scheme}")
    page = _signed_in(new_context, user, width)
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.goto("/settings")
    expect(_row(page, _sid(page))).to_contain_text("This device")
    page.get_by_role("heading", name="Sessions").scroll_into_view_if_needed()
    screenshot(page, f"settings-sessions-{width}-{scheme}")

    admin_page = new_context(width=width, account=admin).new_page()
    admin_page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    admin_page.goto("/admin/users")
    admin_page.get_by_role("searchbox", name="Search accounts").fill(user.email)
    admin_page.get_by_role("button", name="Search", exact=True).click()
    row = admin_page.locator(f'tr[data-user-id="{user.id}"]')
    row.get_by_role("button", name="Sessions", exact=True).click()
    dialog = admin_page.get_by_role("dialog", name=f"Sessions of {user.name}")
    expect(dialog.locator("#sessions-body tr")).to_have_count(2)
    screenshot(admin_page, f"admin-user-sessions-{width}-{scheme}")
    dialog.locator(f'tr[data-session-id="{_sid(page)}"]').get_by_role("button").click()
    admin_page.get_by_role("dialog", name=re.compile("^Sign out")).get_by_role(
        "button", name="Revoke"
    ).click()
    expect(dialog.locator("#sessions-body tr")).to_have_count(1)
    page.reload()
    expect(page).to_have_url(re.compile(r"/auth(\?next=.*)?$"))
