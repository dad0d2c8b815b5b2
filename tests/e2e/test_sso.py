"""Single sign-on in Chromium: the button, the provider's own form, back in the chat, and
sign-out ending the provider's session too. A Bastion of its own (the callback must be
known to the provider before either starts) and the test provider in its own process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, expect

from bastion.app import create_app
from bastion.config import load_settings
from bastion.services import Services
from tests.e2e.harness import _WATCH, WIDTHS, PageProblems
from tests.fake_upstreams import bound_socket, serve
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ProviderHandle, start_provider
from tests.support import CountingHasher


@dataclass
class SsoServed:
    url: str
    provider: ProviderHandle
    services: Services


@pytest.fixture(scope="module")
def sso_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoServed]:
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with start_provider([f"{url}/oauth/oidc/callback"]) as provider:
        settings = load_settings(
            {
                "DATA_DIR": str(tmp_path_factory.mktemp("e2e-sso-data")),
                "WEBUI_URL": url,
                "OPENID_PROVIDER_URL": provider.issuer,
                "OAUTH_CLIENT_ID": CLIENT_ID,
                "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
                "OAUTH_PROVIDER_NAME": "Test IdP",
                "ENABLE_OAUTH_SIGNUP": "true",
                "DEFAULT_USER_ROLE": "user",
            }
        )
        services = Services.build(settings, hasher=CountingHasher())
        with serve(create_app(settings, services=services), lifespan="on", sock=sock):
            yield SsoServed(url, provider, services)


def test_sign_in_with_the_provider_lands_in_the_chat_and_sign_out_ends_it_there(
    browser: Browser, sso_served: SsoServed, screenshot
) -> None:
    problems = PageProblems()
    sso_served.provider.accounts(
        nia={"sub": "sub-nia", "email": "nia@example.com", "email_verified": True, "name": "Nia"}
    )
    context = browser.new_context(viewport=WIDTHS["laptop"], base_url=sso_served.url)
    context.expose_function("__bastionReport", lambda text: problems.violations.append(text))
    context.add_init_script(_WATCH)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.console_errors.append(str(error)))
    try:
        page.goto("/auth")
        button = page.get_by_role("link", name="Sign in with Test IdP")
        expect(button).to_be_visible()
        screenshot(page, "auth-sso-laptop")
        page.emulate_media(color_scheme="dark")
        screenshot(page, "auth-sso-dark")
        page.set_viewport_size(WIDTHS["phone"])
        screenshot(page, "auth-sso-phone")
        page.emulate_media(color_scheme="light")
        screenshot(page, "auth-sso-phone-light")
        page.set_viewport_size(WIDTHS["laptop"])

        button.click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(sso_served.provider.issuer)}/authorize"))
        page.get_by_label("Username").fill("nia")
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(f"{sso_served.url}/")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["token"]["httpOnly"] and cookies["oauth_id_token"]["httpOnly"]
        assert "oauth_state" not in cookies  # spent

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(
            re.compile(rf"^{re.escape(sso_served.provider.issuer)}/end-session")
        )
        expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
        (ended,) = [s for s in sso_served.provider.seen() if s["endpoint"] == "end_session"]
        assert ended["params"]["post_logout_redirect_uri"] == f"{sso_served.url}/auth"
        assert [c for c in context.cookies() if c["name"] == "token"] == []
    finally:
        context.close()
    assert problems.violations == [] and problems.console_errors == []
