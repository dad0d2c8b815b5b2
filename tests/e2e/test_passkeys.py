"""Passkeys in Chromium with the WebAuthn virtual authenticator (CDP): registered on the
security page, used as the second step and alone (ENABLE_PASSKEY_LOGIN), removed, and a
cloned authenticator refused by its stale signature counter.

WebAuthn needs a domain for the relying party (never an IP address), so this module serves
an instance of its own at http://localhost:PORT with WEBUI_URL saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from bastion.app import create_app
from bastion.audit.events import MemorySink
from bastion.config import load_settings
from bastion.services import Services
from tests.e2e.harness import WIDTHS, sign_in_in_browser
from tests.fake_upstreams import bound_socket, serve
from tests.support import PASSWORD, CountingHasher


@dataclass
class PasskeyServer:
    url: str
    sink: MemorySink


@pytest.fixture(scope="module")
def passkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PasskeyServer]:
    sock = bound_socket()
    url = f"http://localhost:{sock.getsockname()[1]}"
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path_factory.mktemp("passkey-data")),
            "WEBUI_URL": url,
            "ENABLE_PASSKEY_LOGIN": "true",
            "SIGNUP_RATE_LIMIT": "1000/1h",
            "SIGNIN_RATE_LIMIT_IP": "1000/15m",
        }
    )
    sink = MemorySink()
    services = Services.build(settings, hasher=CountingHasher(), sinks=[sink])
    with serve(create_app(settings, services=services), lifespan="on", sock=sock):
        yield PasskeyServer(url, sink)


@dataclass
class Tab:
    page: Page
    cdp: CDPSession
    errors: list[str]

    def authenticator(self) -> str:
        answer = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        return str(answer["authenticatorId"])


def _tab(browser: Browser, server: PasskeyServer, width: str = "laptop") -> Tab:
    context = browser.new_context(viewport=WIDTHS[width], base_url=server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: errors.append(f"{m.text} {m.location['url']}") if m.type == "error" else None,
    )
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    return Tab(page, cdp, errors)


def _sign_up(server: PasskeyServer, email: str) -> dict[str, Any]:
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(
            "/api/v1/auths/signup",
            json={"name": "Pat Passkey", "email": email, "password": PASSWORD},
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/auth**")


def test_passkey_register_sign_in_clone_refused_and_remove(
    browser: Browser, passkey_server: PasskeyServer, screenshots: Path
) -> None:
    server, sink = passkey_server, passkey_server.sink
    user = _sign_up(server, "pat@example.com")
    tab = _tab(browser, server)
    page = tab.page
    first = tab.authenticator()
    sign_in_in_browser(page, "pat@example.com")
    page.wait_for_url(f"{server.url}/")

    page.goto("/settings/security")
    expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    page.get_by_label("Name").fill("Laptop <b>key</b>")
    page.get_by_role("button", name="Add passkey").click()
    table = page.get_by_role("table", name="Your passkeys")
    expect(table.get_by_role("cell", name="Laptop <b>key</b>", exact=True)).to_be_visible()
    page.screenshot(path=str(screenshots / "passkeys-security-laptop.png"), full_page=True)
    [added] = sink.of_type("passkey.added")
    assert added.user_id == user["id"] and added.details["name"] == "Laptop <b>key</b>"
    [exported] = tab.cdp.send("WebAuthn.getCredentials", {"authenticatorId": first})["credentials"]

    # The password, then the passkey as the second step.
    _sign_out(page)
    sign_in_in_browser(page, "pat@example.com")
    step = page.locator("#mfa-form")
    expect(step.get_by_role("button", name="Use a passkey")).to_be_visible()
    expect(step.get_by_label("Code")).to_be_hidden()  # no authenticator app on this account
    step.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{server.url}/")
    methods = [
        e.details.get("method") for e in sink.of_type("auth.signin") if e.user_id == user["id"]
    ]
    assert methods[-1] == "passkey"

    # The passkey alone (ENABLE_PASSKEY_LOGIN).
    _sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{server.url}/")
    [now] = tab.cdp.send("WebAuthn.getCredentials", {"authenticatorId": first})["credentials"]
    assert now["signCount"] >= exported["signCount"] + 2

    # A copy of the authenticator as it was at registration: its counter is behind.
    _sign_out(page)
    tab.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first})
    clone = tab.authenticator()
    tab.cdp.send("WebAuthn.addCredential", {"authenticatorId": clone, "credential": exported})
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#signin-form").get_by_role("alert")).to_have_text("The code is incorrect.")
    assert not [c for c in page.context.cookies() if c["name"] == "token"]
    [stale] = sink.of_type("passkey.counter_stale")
    assert stale.user_id == user["id"] and stale.outcome == "denied"
    assert stale.details["stored_count"] == now["signCount"]
    assert [e.details["method"] for e in sink.of_type("mfa.failed")] == ["passkey"]

    # Back to the real authenticator, to remove the passkey.
    tab.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": clone})
    real = tab.authenticator()
    tab.cdp.send("WebAuthn.addCredential", {"authenticatorId": real, "credential": now})
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{server.url}/")
    page.goto("/settings/security")
    page.get_by_role("button", name="Remove Laptop <b>key</b>").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    [removed] = sink.of_type("passkey.removed")
    assert (
        removed.user_id == user["id"]
        and removed.details["passkey_id"] == added.details["passkey_id"]
    )
    # Without a passkey the password alone signs in again.
    _sign_out(page)
    sign_in_in_browser(page, "pat@example.com")
    page.wait_for_url(f"{server.url}/")
    # The clone's refusal, and the browser's own favicon request: nothing else went wrong.
    assert [e for e in tab.errors if "favicon.ico" not in e] == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request) "
        f"{server.url}/api/v1/auths/signin/webauthn"
    ]
