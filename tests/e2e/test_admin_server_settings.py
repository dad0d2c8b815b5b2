"""The server settings page: a change saved there is in force at once (sign-up closed, a
sign-up refused), a refused value is told under its form and the old one stays, and keys
are shown masked."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import WIDTHS, Account, PageProblems
from tests.support import PASSWORD

UPSTREAM_KEY = "sk-upstream-e2e-0123456789abcdef"  # the served instance's (harness.py)


@pytest.fixture
def restored(api: httpx.Client, admin: Account) -> Iterator[None]:
    """The shared instance's settings as they were, whatever the test changed."""
    config = api.get("/api/v1/auths/admin/config", headers=admin.auth).json()
    openai = api.get("/openai/config", headers=admin.auth).json()
    yield
    kept = {key: value for key, value in config.items() if key != "START_TIME_ONLY"}
    assert api.post("/api/v1/auths/admin/config", json=kept, headers=admin.auth).is_success
    assert api.post("/openai/config/update", json=openai, headers=admin.auth).is_success


def _settings_page(
    new_context: Callable[..., BrowserContext], admin: Account, width: str = "laptop"
) -> Page:
    page = new_context(width=width, account=admin).new_page()
    page.goto("/admin/settings")
    expect(page.get_by_role("form", name="Accounts and sign-in")).to_be_visible()
    return page


def _signup(api: httpx.Client, email: str) -> httpx.Response:
    return api.post(
        "/api/v1/auths/signup", json={"name": "Late", "email": email, "password": PASSWORD}
    )


def test_sign_up_closed_on_the_page_refuses_the_next_sign_up(
    api: httpx.Client,
    admin: Account,
    restored: None,
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = _settings_page(new_context, admin)
    form = page.get_by_role("form", name="Accounts and sign-in")
    signup = form.get_by_role("checkbox", name="Anyone may sign up")
    expect(signup).to_be_checked()
    signup.uncheck()
    form.get_by_role("button", name="Save sign-in settings").click()
    expect(page.get_by_role("status").filter(has_text="Sign-in settings saved.")).to_be_visible()

    refused = _signup(api, "closed-door@example.com")
    assert (refused.status_code, refused.json()["code"]) == (403, "signup_disabled")
    shown = api.get("/api/v1/auths/admin/config", headers=admin.auth).json()
    assert shown["ENABLE_SIGNUP"] is False
    page.reload()
    expect(page.get_by_role("checkbox", name="Anyone may sign up")).not_to_be_checked()
    screenshot(page, "admin-server-settings-signup-closed")


def test_a_refused_value_is_told_under_its_form_and_the_old_one_stays(
    api: httpx.Client,
    admin: Account,
    restored: None,
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
    screenshot: Callable[[Page, str], Path],
) -> None:
    problems.allow(r"status of 422")  # the refusals the page tells
    before = api.get("/api/v1/auths/admin/config", headers=admin.auth).json()
    page = _settings_page(new_context, admin)
    form = page.get_by_role("form", name="Accounts and sign-in")
    lifetime = form.get_by_label("Session lifetime")
    lifetime.fill("soon")
    form.get_by_role("button", name="Save sign-in settings").click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"^JWT_EXPIRES_IN: "))
    expect(lifetime).to_have_value(before["JWT_EXPIRES_IN"])
    assert api.get("/api/v1/auths/admin/config", headers=admin.auth).json() == before

    connections = page.get_by_role("form", name="OpenAI-compatible connections")
    url = connections.get_by_label("Base URL")
    old_url = url.input_value()
    url.fill("http://user:secret@models.example/v1")
    connections.get_by_role("button", name="Save OpenAI connections").click()
    expect(connections.get_by_role("alert")).to_contain_text(re.compile(r"^OPENAI_API_BASE_URLS: "))
    expect(url).to_have_value(old_url)
    shown = api.get("/openai/config", headers=admin.auth).json()
    assert shown["OPENAI_API_BASE_URLS"] == [old_url]
    screenshot(page, "admin-server-settings-refused")


def test_keys_are_masked_and_kept_when_saved_as_shown(
    api: httpx.Client,
    admin: Account,
    restored: None,
    new_context: Callable[..., BrowserContext],
) -> None:
    page = _settings_page(new_context, admin)
    connections = page.get_by_role("form", name="OpenAI-compatible connections")
    expect(connections.get_by_label("Key")).to_have_value("****" + UPSTREAM_KEY[-4:])
    assert UPSTREAM_KEY[:-4] not in page.content()
    connections.get_by_role("button", name="Save OpenAI connections").click()
    expect(page.get_by_role("status").filter(has_text="OpenAI connections saved.")).to_be_visible()
    gateway = api.get("/openai/config", headers=admin.auth).json()
    assert gateway["OPENAI_API_KEYS"] == ["****" + UPSTREAM_KEY[-4:]]
    models = api.get("/api/models", headers=admin.auth).json()
    assert models["data"], "the upstream still answers with the key kept"


def test_server_settings_page_fits_both_widths_and_the_dark(
    admin: Account,
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    for width in WIDTHS:
        for scheme in ("light", "dark"):
            page = _settings_page(new_context, admin, width)
            page.emulate_media(color_scheme=scheme)
            main = page.locator(".main")
            assert main.evaluate("(main) => main.scrollWidth - main.clientWidth") <= 0
            screenshot(page, f"admin-server-settings-{width}-{scheme}")
