"""From the first visitor to a streamed answer: sign-up, approval, the chat page."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import (
    PACED,
    Account,
    PageProblems,
    Served,
    approve,
    grant_models,
    sign_in_in_browser,
    sign_up_in_browser,
)


def test_first_visitor_signs_up_and_is_admin(
    admin: Account, served: Served, new_context: Callable[..., BrowserContext], screenshot
) -> None:
    assert served.query("SELECT role FROM users WHERE id = ?", admin.id) == [("admin",)]
    page = new_context(account=admin).new_page()
    page.goto("/")
    expect(page.get_by_role("link", name="Administration")).to_be_visible()
    expect(page.get_by_label("Model")).to_be_visible()
    screenshot(page, "chat-admin")


def test_second_visitor_waits_for_approval_then_chats(
    admin: Account,
    served: Served,
    api: httpx.Client,
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
    screenshot,
) -> None:
    # The waiting page's check after approval is refused (the approval ended the session).
    problems.allow(r"status of 401")
    page = new_context().new_page()
    sign_up_in_browser(page, "Bea Second", "second@example.com")
    page.wait_for_url(re.compile(r"/pending$"))
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    screenshot(page, "pending")
    # A pending account reaches no private page.
    page.goto("/")
    page.wait_for_url(re.compile(r"/pending$"))

    (user_id,) = served.query("SELECT id FROM users WHERE email = ?", "second@example.com")[0]
    approve(api, admin, user_id)
    grant_models(api, admin, user_id)
    # The approval ended the pending session: the waiting page sends the person to sign in.
    page.get_by_role("button", name="Check again").click()
    page.wait_for_url(re.compile(r"/auth$"))
    sign_in_in_browser(page, "second@example.com")
    page.wait_for_url(f"{served.url}/")

    page.get_by_label("Model").select_option(PACED)
    _watch_answer(page)
    page.get_by_role("textbox", name="Message").fill("Say hello")
    page.get_by_role("textbox", name="Message").press("Enter")
    answer = page.locator(".message.assistant .content").last
    expect(answer).to_have_text("Hello!")
    seen = page.evaluate("window.__steps")
    assert seen[-1] == "Hello!" and len(seen) >= 3, seen
    page.wait_for_url(re.compile(r"/c/[^/]+$"))
    screenshot(page, "chat-answered")


def _watch_answer(page: Page) -> None:
    """Records, in the page, each text the answer showed on its way to the end."""
    page.evaluate(
        """() => {
          window.__steps = [];
          new MutationObserver(() => {
            const answer = document.querySelector(".message.assistant:last-of-type .content");
            const text = answer ? answer.textContent.trim() : "";
            if (text && window.__steps.at(-1) !== text) window.__steps.push(text);
          }).observe(document.getElementById("messages"),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
