"""Forged cross-site requests with a victim's cookie change nothing; a real page still works."""

from __future__ import annotations

import httpx
import pytest

from bastion.audit.events import MemorySink
from tests.support import Bastion, StartBastion

EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
REFUSED = {
    "detail": "The request did not come from this site (CSRF check failed).",
    "code": "csrf_failed",
}


@pytest.fixture
async def bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion({"DEFAULT_USER_ROLE": "user", "ENABLE_API_KEYS": "true"})


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _victim_browser(bastion: Bastion, session: dict) -> httpx.AsyncClient:
    """The victim's browser on the attacker's page: it sends the cookie, never the token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bastion.app),
        base_url="http://testserver",
        cookies={"token": session["token"]},
    )


async def test_cross_site_api_key_creation_is_refused_and_recorded(bastion: Bastion) -> None:
    sink = MemorySink()
    bastion.services.events.add_sink(sink)
    victim = await bastion.signup("victim@example.com")
    async with _victim_browser(bastion, victim) as browser:
        response = await browser.post("/api/v1/auths/api_key", json={"name": "x"}, headers=EVIL)
    assert (response.status_code, response.json()) == (403, REFUSED)
    keys = await bastion.client.get("/api/v1/auths/api_key", headers=_auth(victim["token"]))
    assert keys.json() == []
    (event,) = sink.of_type("csrf.refused")
    assert (event.outcome, event.details, event.client_ip) == (
        "denied",
        {"reason": "cross_site"},
        "127.0.0.1",
    )


async def test_cross_site_chat_deletion_is_refused(bastion: Bastion) -> None:
    victim = await bastion.signup("victim@example.com")
    chat = await bastion.client.post(
        "/api/v1/chats/new", json={"chat": {"title": "Keep"}}, headers=_auth(victim["token"])
    )
    chat_id = chat.json()["id"]
    async with _victim_browser(bastion, victim) as browser:
        response = await browser.delete(f"/api/v1/chats/{chat_id}", headers=EVIL)
    assert (response.status_code, response.json()) == (403, REFUSED)
    kept = await bastion.client.get(f"/api/v1/chats/{chat_id}", headers=_auth(victim["token"]))
    assert (kept.status_code, kept.json()["title"]) == (200, "Keep")


async def test_form_post_disabling_an_account_is_refused(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with _victim_browser(bastion, admin) as browser:
        forged = await browser.post(
            f"/api/v1/users/{user['id']}/disable", content=b"", headers={**form, **EVIL}
        )
    assert (forged.status_code, forged.json()) == (403, REFUSED)
    # Even from the page itself, a form body reaches no JSON route.
    async with _victim_browser(bastion, admin) as page:
        csrf = (await page.get("/api/v1/auths/")).json()
        own = await page.post(
            f"/api/v1/users/{user['id']}/disable",
            content=b"",
            headers={**form, "Origin": "http://testserver", "X-CSRF-Token": csrf["csrf_token"]},
        )
    assert (own.status_code, own.json()["code"]) == (415, "unsupported_media_type")
    target = await bastion.client.get(f"/api/v1/users/{user['id']}", headers=_auth(admin["token"]))
    assert target.json()["is_active"] is True


async def test_cross_site_multipart_upload_is_refused(bastion: Bastion) -> None:
    victim = await bastion.signup("victim@example.com")
    async with _victim_browser(bastion, victim) as browser:
        response = await browser.post(
            "/api/v1/files/", files={"file": ("a.txt", b"hello", "text/plain")}, headers=EVIL
        )
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert [path for path in bastion.settings.files.upload_dir.rglob("*") if path.is_file()] == []
    files = await bastion.client.get("/api/v1/files/", headers=_auth(victim["token"]))
    assert files.json() == []


async def test_cross_site_text_plain_completion_is_refused(bastion: Bastion) -> None:
    victim = await bastion.signup("victim@example.com")
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    async with _victim_browser(bastion, victim) as browser:
        response = await browser.post(
            "/api/chat/completions",
            content=body,
            headers={"Content-Type": "text/plain", **EVIL},
        )
    assert (response.status_code, response.json()) == (403, REFUSED)
    # Nor does a text/plain body reach the route for a program with its own credential.
    bearer = await bastion.client.post(
        "/api/chat/completions",
        content=body,
        headers={"Content-Type": "text/plain", **_auth(victim["token"])},
    )
    assert (bearer.status_code, bearer.json()["code"]) == (415, "unsupported_media_type")


async def test_a_page_with_its_token_changes_state_with_the_cookie(bastion: Bastion) -> None:
    signed_up = await bastion.signup("user@example.com")
    assert signed_up["csrf_token"] == bastion.app.state.csrf.for_session(signed_up["token"])
    # A program with a bearer token needs none and gets none.
    assert "csrf_token" not in (await bastion.me(signed_up["token"])).json()
    async with _victim_browser(bastion, signed_up) as page:
        me = await page.get("/api/v1/auths/")
        assert me.json()["csrf_token"] == signed_up["csrf_token"]
        made = await page.post(
            "/api/v1/chats/new",
            json={"chat": {"title": "Mine"}},
            headers={"Origin": "http://testserver", "X-CSRF-Token": signed_up["csrf_token"]},
        )
        missing = await page.post(
            "/api/v1/chats/new", json={"chat": {}}, headers={"Origin": "http://testserver"}
        )
    assert made.status_code == 200 and made.json()["title"] == "Mine"
    assert (missing.status_code, missing.json()) == (403, REFUSED)


async def test_cross_site_sign_in_is_refused(bastion: Bastion) -> None:
    await bastion.signup("user@example.com")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bastion.app), base_url="http://testserver"
    ) as browser:
        response = await browser.post(
            "/api/v1/auths/signin",
            json={"email": "user@example.com", "password": "correct horse battery staple"},
            headers=EVIL,
        )
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert "set-cookie" not in response.headers
