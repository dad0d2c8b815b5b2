"""Forged requests from another origin change nothing; the same actions from Bastion's pages do.

The victim signs in through the sign-in page (the cookie is exactly as Bastion sets it,
``SameSite=lax``), then opens an attacker's page in the same browser context. The
attacker's page auto-submits forms and calls ``fetch(..., {credentials: "include"})`` to
change the password, create an API key and delete a chat (whose id it knows).

Two attackers: ``localhost`` on another port is another site, so SameSite already keeps
the cookie off its POSTs; another port of ``127.0.0.1`` is the same site but another
origin, so the browser sends the cookie and only the CSRF middleware stands in the way
(its refusals are asserted by their ``csrf_failed`` code and security events).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.e2e.harness import Account, PageProblems, Served, sign_in_in_browser
from tests.web_servers import Handler, SeenRequest, WebServer, respond

ATTACKER_PASSWORD = "the attacker's passphrase 1"
ATTACKERS = {"same-site": "127.0.0.1", "cross-site": "localhost"}


def _form(action: str, fields: dict[str, str]) -> str:
    """A form the page submits on load. ``text/plain`` puts ``name=value`` in the body
    as it is: the JSON split across a name and a value is the classic way a form posts
    a JSON-looking body without a preflight."""
    text = json.dumps(fields)
    name, value = text[:-2], text[-2:]
    return (
        f'<form method="post" action="{escape(action)}" enctype="text/plain">'
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}"></form>'
    )


def _attacker_pages(bastion: str, victim: Account, chat_id: str) -> dict[str, str]:
    forms = {
        "/password": _form(
            f"{bastion}/api/v1/auths/update/password",
            {"password": victim.password, "new_password": ATTACKER_PASSWORD},
        ),
        "/key": _form(f"{bastion}/api/v1/auths/api_key", {"name": "attacker"}),
    }
    page = "<!doctype html><title>Win a prize</title><body>{}</body>"
    go = "<script src=/go.js></script>"
    return {
        **{path: page.format(form + go) for path, form in forms.items()},
        "/go.js": "document.forms[0].submit();",
        "/fetch": page.format("Nothing to see."),
    }


def _site(pages: dict[str, str]) -> Handler:
    async def handler(seen: SeenRequest, writer: asyncio.StreamWriter) -> None:
        body = pages.get(seen.target)
        if body is None:  # the browser's /favicon.ico, say: nothing, and no error logged
            await respond(writer, 204)
        else:
            kind = "text/javascript" if seen.target.endswith(".js") else "text/html"
            await respond(writer, 200, body.encode(), {"Content-Type": kind})

    return handler


# What the attacker's script calls; each outcome is the status or the error it saw.
_FETCHES = """async ([bastion, chatId, password, attackerPassword]) => {
  const attempts = [
    ["POST", "/api/v1/auths/update/password",
     JSON.stringify({password, new_password: attackerPassword})],
    ["POST", "/api/v1/auths/api_key", JSON.stringify({name: "attacker"})],
    ["DELETE", `/api/v1/chats/${chatId}`, undefined],
  ];
  const outcomes = [];
  for (const [method, path, body] of attempts) {
    try {
      const answer = await fetch(bastion + path, {method, body, credentials: "include"});
      outcomes.push(`${method} ${path}: ${answer.status}`);
    } catch (error) {
      outcomes.push(`${method} ${path}: ${error.name}`);
    }
  }
  return outcomes;
}"""


def _state(served: Served, victim: Account) -> tuple[Any, ...]:
    """What a successful forgery would change: the password, the keys, the chats."""
    return (
        served.query("SELECT password_hash FROM users WHERE id = ?", victim.id),
        served.query("SELECT id FROM api_keys WHERE user_id = ?", victim.id),
        served.query("SELECT id FROM chats WHERE user_id = ?", victim.id),
    )


def _csrf_refusals(served: Served, api: httpx.Client, admin: Account, since: str) -> list[str]:
    assert served.services.audit.flush(30)
    answer = api.get(
        "/api/v1/audit/events", params={"type": "csrf.refused", "since": since}, headers=admin.auth
    )
    assert answer.status_code == 200, answer.text
    return sorted(str(event["details"]["reason"]) for event in answer.json()["events"])


def _victim(
    make_user: Callable[..., Account], new_context: Callable[..., BrowserContext], api: httpx.Client
) -> tuple[Account, BrowserContext, str]:
    victim = make_user("Vic Victim")
    context = new_context()
    page = context.new_page()
    sign_in_in_browser(page, victim.email)
    page.wait_for_url("**/")
    cookie = next(c for c in context.cookies() if c["name"] == "token")
    assert cookie["sameSite"] == "Lax" and cookie["httpOnly"]
    chat = api.post("/api/v1/chats/new", json={"title": "Secret plans"}, headers=victim.auth)
    assert chat.status_code == 200, chat.text
    page.close()
    return victim, context, str(chat.json()["id"])


@pytest.mark.parametrize("attacker", list(ATTACKERS))
def test_forged_forms_and_fetches_from_another_origin_change_nothing(
    attacker: str,
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    local_server: Callable[[Handler], WebServer],
    problems: PageProblems,
) -> None:
    # The refusals themselves, as the attacker's page logs them.
    problems.allow(r"status of 40[13]|status of 415|blocked by CORS policy|net::ERR_FAILED")
    since = datetime.now(UTC).isoformat()
    victim, context, chat_id = _victim(make_user, new_context, api)
    before = _state(served, victim)
    pages = _attacker_pages(served.url, victim, chat_id)
    site = local_server(_site(pages))
    origin = f"http://{ATTACKERS[attacker]}:{site.port}"
    page = context.new_page()

    answers: list[Response] = []
    page.on("response", lambda response: answers.append(response))
    for path in ("/password", "/key"):
        with page.expect_navigation(url=f"{served.url}/**"):
            page.goto(f"{origin}{path}")
        shown = page.locator("body").inner_text()
        if attacker == "same-site":
            # The cookie went with the form; the middleware alone refused it.
            assert json.loads(shown)["code"] == "csrf_failed"
        else:
            # SameSite kept the cookie home: no session, and a form cannot post JSON.
            assert json.loads(shown)["code"] == "unsupported_media_type"
    assert [(a.request.method, a.status) for a in answers if a.url.startswith(served.url)] == [
        ("POST", 403 if attacker == "same-site" else 415)
    ] * 2

    page.goto(f"{origin}/fetch")
    outcomes = page.evaluate(_FETCHES, [served.url, chat_id, victim.password, ATTACKER_PASSWORD])
    # No answer is readable by the attacker's page, and the DELETE's preflight fails.
    assert outcomes == [
        "POST /api/v1/auths/update/password: TypeError",
        "POST /api/v1/auths/api_key: TypeError",
        f"DELETE /api/v1/chats/{chat_id}: TypeError",
    ]

    # A DELETE that a browser did send (had CORS let it), with the cookie and the
    # attacker's Origin: the middleware refuses it too.
    forged = context.request.delete(
        f"{served.url}/api/v1/chats/{chat_id}", headers={"Origin": origin}
    )
    assert forged.status == 403 and forged.json()["code"] == "csrf_failed"

    assert _state(served, victim) == before
    refusals = _csrf_refusals(served, api, admin, since)
    # Each that carried the cookie: the same site's two forms and two POSTs, and the DELETE.
    assert refusals == ["token_missing"] * (5 if attacker == "same-site" else 1)

    _own_pages_succeed(served, context, victim, chat_id, before)


def _own_pages_succeed(
    served: Served,
    context: BrowserContext,
    victim: Account,
    chat_id: str,
    before: tuple[Any, ...],
) -> None:
    """The same three actions, from Bastion's own pages in the same browser context."""
    page: Page = context.new_page()
    page.goto("/settings")
    form = page.locator("#key-form")
    form.get_by_label("Name").fill("my own key")
    form.get_by_role("button", name="Create key").click()
    expect(page.get_by_label("New API key")).to_have_value(re.compile(r"^sk-"))
    assert len(served.query("SELECT id FROM api_keys WHERE user_id = ?", victim.id)) == 1

    page.get_by_label("Current password").fill(victim.password)
    page.get_by_label("New password", exact=True).fill("my own new passphrase 7")
    page.get_by_label("New password again").fill("my own new passphrase 7")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").filter(has_text="Password changed.")).to_be_visible()
    assert served.query("SELECT password_hash FROM users WHERE id = ?", victim.id) != before[0]

    page.goto(f"/c/{chat_id}")
    delete = page.get_by_role("button", name="Delete Secret plans")
    delete.click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Delete Secret plans").click()
    assert deleted.value.status == 200
    page.wait_for_url(f"{served.url}/")
    assert served.query("SELECT id FROM chats WHERE id = ?", chat_id) == []
