"""A share link: made on the chat page, read elsewhere without a way to change the chat,
dead once revoked."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import Account, PageProblems, Served, create_chat


def test_a_share_link_opens_read_only_elsewhere_and_dies_when_revoked(
    api: httpx.Client,
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
    screenshot,
) -> None:
    # The revoked link's page asks for it once more and is answered 404.
    problems.allow(r"status of 404")
    owner = make_user("Olga Owner")
    chat_id = create_chat(api, owner, "Holiday plan", "Where to in May?", "Lisbon, by train.")
    page = new_context(account=owner).new_page()
    page.goto(f"/c/{chat_id}")
    page.get_by_role("button", name="Share", exact=True).click()
    link = page.get_by_label("Share link")
    expect(link).to_have_value(re.compile(rf"^{re.escape(served.url)}/s/[^/]+$"))
    url = link.input_value()
    share_id = url.rsplit("/", 1)[1]
    assert served.query("SELECT share_id FROM chats WHERE id = ?", chat_id) == [(share_id,)]

    # Without a session the link shows nothing but the sign-in page.
    anonymous = new_context().new_page()
    anonymous.goto(url)
    expect(anonymous).to_have_url(re.compile(r"/auth\?next="))
    expect(anonymous.get_by_text("Lisbon, by train.")).to_have_count(0)

    # Another person, in a browser context of their own, reads it and can change nothing.
    reader = make_user("Rita Reader")
    shared = new_context(account=reader).new_page()
    shared.goto(url)
    expect(shared.get_by_role("status")).to_have_text("Read-only.")
    expect(shared.get_by_role("heading", name="Holiday plan")).to_be_visible()
    messages = shared.get_by_role("log", name="Messages")
    expect(messages.locator(".message .content")).to_have_text(
        ["Where to in May?", "Lisbon, by train."]
    )
    main = shared.get_by_role("main")
    expect(main.get_by_role("textbox")).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)
    expect(shared.get_by_role("list", name="Chats")).to_have_count(0)
    screenshot(shared, "shared")

    page.get_by_role("button", name="Revoke link").click()
    expect(
        page.get_by_role("status").filter(has_text="The share link no longer works.")
    ).to_be_visible()
    expect(page.get_by_label("Share link")).to_be_hidden()
    assert served.query("SELECT share_id FROM chats WHERE id = ?", chat_id) == [(None,)]
    shared.reload()
    expect(shared.get_by_role("status")).to_have_text(
        "This share link does not exist or was revoked."
    )
    expect(shared.get_by_text("Lisbon, by train.")).to_have_count(0)
    gone = api.get(f"/api/v1/chats/share/{share_id}", headers=reader.auth)
    assert gone.status_code == 404, gone.text
