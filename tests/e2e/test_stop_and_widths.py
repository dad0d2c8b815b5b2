"""Stop ends a stream at the upstream too; the pages hold at laptop and phone widths; a
screenshot holds the whole page."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.harness import ENDLESS, WIDTHS, Account, Served, create_chat


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


def test_a_screenshot_holds_the_whole_chat_and_leaves_the_page_as_it_was(
    api: httpx.Client,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot,
) -> None:
    user = make_user("Lou Long")
    chat_id = create_chat(api, user, "Long", *(f"Line {n}\n\nmore\n\nmore" for n in range(30)))
    page = new_context(account=user).new_page()
    page.goto(f"/c/{chat_id}")
    expect(page.get_by_text("Line 29")).to_be_attached()
    main = page.get_by_role("main")
    scrolled = main.evaluate("main => main.scrollHeight")
    assert scrolled > WIDTHS["laptop"]["height"]
    png = screenshot(page, "long-chat").read_bytes()
    # The PNG's own header: width and height, big-endian, after the signature and IHDR.
    width, height = struct.unpack(">II", png[16:24])
    assert width == WIDTHS["laptop"]["width"]
    assert height >= scrolled
    # For the person, the main area still scrolls on its own, and no style was left.
    assert main.evaluate("main => getComputedStyle(main).overflowY") == "auto"
    left = page.evaluate(
        """() => [...document.querySelectorAll("html, body, .layout, .main, .sidebar, .composer")]
                 .filter((element) => element.style.length).map((element) => element.tagName)"""
    )
    assert left == []
    assert main.evaluate("main => main.scrollHeight") == scrolled
