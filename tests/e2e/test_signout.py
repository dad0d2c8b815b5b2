"""Sign-out in the browser: the site's data cleared, Back shows nothing private, and the
session's old cookie is refused."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import Account, create_chat


def test_after_sign_out_back_shows_nothing_private_and_the_old_cookie_is_refused(
    api: httpx.Client,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    user = make_user("Sol Signout")
    chat_id = create_chat(api, user, "Private matter", "My secret question")
    context = new_context(account=user)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("list", name="Chats").get_by_role("link", name="Private matter").click()
    expect(page).to_have_url(re.compile(rf"/c/{chat_id}$"))
    expect(page.get_by_text("My secret question")).to_be_visible()
    (old,) = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "token"]

    with page.expect_response("**/api/v1/auths/signout") as signed_out:
        page.get_by_role("button", name="Sign out").click()
    assert signed_out.value.ok
    assert signed_out.value.all_headers()["clear-site-data"] == '"cache", "cookies", "storage"'
    expect(page).to_have_url(re.compile(r"/auth$"))
    assert [c for c in context.cookies() if c["name"] == "token"] == []

    # Back returns to the private page before the chat: it is asked for again, and
    # without a session it is the sign-in page.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/auth(\?next=.*)?$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    for private in ("Private matter", "My secret question", user.name):
        expect(page.get_by_text(private)).to_have_count(0)
    assert page.get_by_role("list", name="Chats").count() == 0

    # The old cookie value, sent by hand, is refused: the token was revoked.
    for headers in ({"Cookie": f"token={old}"}, {"Authorization": f"Bearer {old}"}):
        refused = api.get("/api/v1/auths/", headers=headers)
        assert refused.status_code == 401, refused.text
        assert api.get(f"/api/v1/chats/{chat_id}", headers=headers).status_code == 401
