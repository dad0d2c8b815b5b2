"""The browser tests' harness: one served Bastion, fake upstreams, Debian's Chromium.

One Bastion (uvicorn on a free port of 127.0.0.1, a cheap password hasher) and one fake
OpenAI-compatible upstream serve the whole e2e run; each test gets fresh browser contexts
(one per person). Every page a test opens fails the test on any CSP violation, console
error, uncaught exception or dialog, unless the test allowed that console message.
Screenshots go under the run's temporary directory (``screenshot``).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from bastion.app import create_app
from bastion.config import load_settings
from bastion.services import Services
from tests.fake_upstreams import FakeUpstream, serve
from tests.support import PASSWORD, CountingHasher
from tests.web_servers import Handler, WebServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Models the browser tests use: answers in words a pause apart, a few or without end.
PACED = "gpt-paced"
ENDLESS = "gpt-endless"
# Answers with the person's own last message: a chosen text as model output.
ECHO = "gpt-echo"
CHAT_MODELS = ("gpt-normal", PACED, ENDLESS, ECHO)

# Reported by the page itself into the test (init scripts run before the page's own).
_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__bastionReport(
    `${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
});
"""


# The pages scroll inside their main area and sidebar, not as a whole, so a full-page
# screenshot would stop at the viewport's height. For the picture only, the page grows
# to its content and then goes back: styles set through the CSSOM from the test, which
# the CSP allows (unlike style attributes or a <style> element), and nothing the pages
# themselves ship.
_UNFOLDED = {
    "html": {"height": "auto"},
    "body": {"height": "auto", "min-height": "100vh"},
    ".layout": {"min-height": "auto"},
    ".main, .sidebar": {"overflow": "visible"},
    # Sticky to the viewport's first screen otherwise, across the content below it.
    ".composer": {"position": "static"},
}
_UNFOLD = f"""() => {{
  for (const [selector, styles] of Object.entries({json.dumps(_UNFOLDED)})) {{
    for (const element of document.querySelectorAll(selector)) {{
      for (const [name, value] of Object.entries(styles)) {{
        element.style.setProperty(name, value, "important");
      }}
    }}
  }}
}}"""
_FOLD = f"""() => {{
  for (const [selector, styles] of Object.entries({json.dumps(_UNFOLDED)})) {{
    for (const element of document.querySelectorAll(selector)) {{
      for (const name of Object.keys(styles)) element.style.removeProperty(name);
    }}
  }}
}}"""


@dataclass
class Served:
    url: str
    services: Services
    upstream: FakeUpstream
    database: Path

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the database as it is now (SQLite, read-only)."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as connection:
            return connection.execute(sql, params).fetchall()


@dataclass
class Account:
    email: str
    name: str
    id: str
    token: str
    password: str = PASSWORD

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class PageProblems:
    """What went wrong on a test's pages; asserted empty after the test."""

    violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """A console error the test expects (e.g. the 404 of a revoked share link)."""
        self.allowed.append(re.compile(pattern))

    def console(self, text: str) -> None:
        if not any(pattern.search(text) for pattern in self.allowed):
            self.console_errors.append(text)


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream("openai", paced=True)
    with serve(fake) as url:
        yield fake, f"{url}/v1"


@pytest.fixture(scope="session")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: tuple[FakeUpstream, str]
) -> Iterator[Served]:
    fake, base_url = upstream
    data = tmp_path_factory.mktemp("e2e-data")
    settings = load_settings(
        {
            "DATA_DIR": str(data),
            "OPENAI_API_BASE_URLS": base_url,
            "OPENAI_API_KEYS": "sk-upstream-e2e-0123456789abcdef",
            "ENABLE_API_KEYS": "true",
            "USER_PERMISSIONS_FEATURES_API_KEYS": "true",
            # Every test's accounts sign up and in from 127.0.0.1.
            "SIGNUP_RATE_LIMIT": "1000/1h",
            "SIGNIN_RATE_LIMIT_IP": "1000/15m",
            "MODEL_UPSTREAM_READ_TIMEOUT": "30s",
        }
    )
    services = Services.build(settings, hasher=CountingHasher())
    with serve(create_app(settings, services=services), lifespan="on") as url:
        yield Served(url, services, fake, data / "bastion.db")


# Package scope, not session: the sync API keeps an event loop running in this thread
# while it is open, and the suite's asyncio tests after the e2e ones need the thread free.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-screenshots")


@pytest.fixture
def screenshot(screenshots: Path, request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``screenshot(page, "chat-laptop")``: a full-page PNG under the run's temporary output."""

    def take(page: Page, name: str) -> Path:
        path = screenshots / f"{request.node.name}-{name}.png"
        page.evaluate(_UNFOLD)
        try:
            page.screenshot(path=str(path), full_page=True)
        finally:
            page.evaluate(_FOLD)
        return path

    return take


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def new_context(
    browser: Browser, served: Served, problems: PageProblems
) -> Iterator[Callable[..., BrowserContext]]:
    """``new_context(width="laptop", account=None)``: a browser context of its own.

    With an account, the context carries that account's session cookie. Every page
    opened in it reports CSP violations, console errors and dialogs to ``problems``.
    """
    contexts: list[BrowserContext] = []

    def make(width: str = "laptop", account: Account | None = None) -> BrowserContext:
        context = browser.new_context(
            viewport=WIDTHS[width], base_url=served.url, service_workers="block"
        )
        contexts.append(context)
        context.expose_function("__bastionReport", lambda text: problems.violations.append(text))
        context.add_init_script(_WATCH)

        def watch(page: Page) -> None:
            page.on(
                "console",
                lambda message: problems.console(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.console_errors.append(str(error)))

            def dialog(opened: Any) -> None:
                problems.dialogs.append(f"{opened.type}: {opened.message}")
                opened.dismiss()

            page.on("dialog", dialog)

        context.on("page", watch)
        if account is not None:
            context.add_cookies(
                [{"name": "token", "value": account.token, "url": served.url, "httpOnly": True}]
            )
        return context

    yield make
    for context in contexts:
        context.close()
    assert problems.violations == [], "CSP violations"
    assert problems.console_errors == [], "console errors"
    assert problems.dialogs == [], "dialogs opened"


@pytest.fixture
def local_server() -> Iterator[Callable[[Handler], WebServer]]:
    """``local_server(handler)``: a plain HTTP server on another port of 127.0.0.1 (a canary
    that records every hit, or a page of another origin), on an event loop of its own
    thread; stopped after the test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started: list[WebServer] = []

    def start(handler: Handler) -> WebServer:
        server = asyncio.run_coroutine_threadsafe(WebServer(handler).start(), loop).result(10)
        started.append(server)
        return server

    yield start
    for server in started:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


_accounts = iter(range(1, 10**6))


def sign_up_in_browser(page: Page, name: str, email: str, password: str = PASSWORD) -> None:
    """Fills the sign-up form of ``/auth`` as a person would."""
    page.goto("/auth")
    if page.get_by_role("tab", name="Sign up").get_attribute("aria-selected") != "true":
        page.get_by_role("tab", name="Sign up").click()
    form = page.locator("#signup-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()


def sign_in_in_browser(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/auth")
    form = page.locator("#signin-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="package")
def admin(browser: Browser, served: Served) -> Account:
    """The first account, signed up through the page by the first visitor: the admin."""
    context = browser.new_context(viewport=WIDTHS["laptop"], base_url=served.url)
    try:
        page = context.new_page()
        sign_up_in_browser(page, "Ada Admin", "admin@example.com")
        page.wait_for_url(f"{served.url}/")
        token = next(c["value"] for c in context.cookies() if c["name"] == "token")
    finally:
        context.close()
    with httpx.Client(base_url=served.url) as client:
        me = client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {token}"}).json()
    return Account(me["email"], me["name"], me["id"], token)


def approve(api: httpx.Client, admin: Account, user_id: str, role: str = "user") -> None:
    answer = api.post(
        "/api/v1/users/update/role", json={"id": user_id, "role": role}, headers=admin.auth
    )
    assert answer.status_code == 200, answer.text


def grant_models(api: httpx.Client, admin: Account, user_id: str) -> None:
    """Add the account to each chat model's access list, keeping whoever is on it: the
    tests share one instance, and an earlier test's user must keep its models."""
    for model in CHAT_MODELS:
        path = f"/api/v1/models/{model}/access"
        current = api.get(path, headers=admin.auth)
        assert current.status_code == 200, current.text
        listed = current.json()
        form = {"user_ids": [*listed["user_ids"], user_id], "groups": listed["groups"]}
        answer = api.post(path, json=form, headers=admin.auth)
        assert answer.status_code == 200, answer.text


def sign_in_token(api: httpx.Client, email: str, password: str = PASSWORD) -> str:
    answer = api.post("/api/v1/auths/signin", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def create_chat(api: httpx.Client, account: Account, title: str, *texts: str) -> str:
    """A chat of ``account`` made by the API: ``texts`` as the person's and the model's
    turns in turn; its id."""
    messages = [
        {"id": f"{title}-{n}", "role": "user" if n % 2 == 0 else "assistant", "content": text}
        for n, text in enumerate(texts)
    ]
    chat = {"title": title, "messages": messages}
    answer = api.post("/api/v1/chats/new", json={"chat": chat}, headers=account.auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


@pytest.fixture
def make_user(api: httpx.Client, admin: Account) -> Callable[..., Account]:
    """``make_user(name=..., approved=True)``: a new account (by the API), approved and
    granted the chat models unless told otherwise; its token is a fresh session."""

    def make(name: str = "Bea User", *, approved: bool = True) -> Account:
        email = f"user{next(_accounts)}@example.com"
        answer = api.post(
            "/api/v1/auths/signup", json={"name": name, "email": email, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        user = answer.json()
        if approved:
            approve(api, admin, user["id"])
            grant_models(api, admin, user["id"])
            # Approval revokes the pending session: sign in again.
            token = sign_in_token(api, email)
        else:
            token = user["token"]
        return Account(email, name, user["id"], token)

    return make
