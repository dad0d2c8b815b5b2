"""Stop ends a stream at the upstream too; the pages hold at laptop and phone widths."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import ENDLESS, Account, Served


def test_stop_ends_a_slow_stream_and_the_upstream_sees_the_disconnect(
    make_user: Callable[..., Account],
    served: Served,
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context(account=make_user()).new_page()
    page.goto("/")
    page.get_by_label("Model").select_option(ENDLESS)
    served.upstream.closed.clear()
    before = served.upstream.closed_early
    page.get_by_role("textbox", name="Message").fill("Talk forever")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant .content").last
    expect(answer).to_contain_text("word1")
    # The page saves what arrived once the stream has ended: wait for that save.
    with page.expect_response(
        lambda response: (
            response.request.method == "POST"
            and re.search(r"/api/v1/chats/[0-9a-f-]{36}$", response.url) is not None
        )
    ) as saved:
        page.keyboard.press("Escape")
    assert saved.value.ok
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    assert served.upstream.closed.wait(10)
    assert served.upstream.closed_early == before + 1
    stopped = answer.text_content()
    page.wait_for_url(re.compile(r"/c/[^/]+$"))
    page.reload()
    # What had arrived when the person stopped is what the chat keeps.
    expect(page.locator(".message.assistant .content").last).to_have_text(stopped.strip())


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_pages_have_no_csp_violation_or_console_error(
    width: str,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot,
) -> None:
    page = new_context(width).new_page()
    page.goto("/auth")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page, f"auth-{width}")
    page = new_context(width, account=make_user()).new_page()
    page.goto("/")
    expect(page.get_by_text("Pick a model and send a message to start.")).to_be_visible()
    screenshot(page, f"chat-{width}")
    pending = new_context(width, account=make_user(approved=False)).new_page()
    pending.goto("/pending")
    expect(pending.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    screenshot(pending, f"pending-{width}")
