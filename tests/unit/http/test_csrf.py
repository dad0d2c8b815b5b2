"""The CSRF middleware on its own, in front of an app that says whether it was reached."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Scope

from bastion.http.csrf import CsrfMiddleware, CsrfTokens

SECRET = "s" * 40
COOKIE = "session-token-value"
ORIGIN = "http://testserver"
TOKEN = CsrfTokens(SECRET).for_session(COOKIE)


def _app(refusals: list[tuple[str, str]], **options: Any) -> CsrfMiddleware:
    async def reached(request: Request) -> JSONResponse:
        return JSONResponse({"reached": True})

    inner = Starlette(routes=[Route("/{path:path}", reached, methods=["GET", "POST", "DELETE"])])

    def record(scope: Scope, reason: str) -> None:
        refusals.append((scope["path"], reason))

    return CsrfMiddleware(
        inner,
        tokens=CsrfTokens(SECRET),
        cookie_name="token",
        login_paths=("/signin",),
        other_bodies=("/upload",),
        on_refusal=record,
        **options,
    )


@pytest.fixture
def refusals() -> list[tuple[str, str]]:
    return []


@pytest.fixture
async def client(refusals: list[tuple[str, str]]) -> Any:
    transport = httpx.ASGITransport(app=_app(refusals))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        client.cookies.set("token", COOKIE)
        yield client


def _good(**extra: str) -> dict[str, str]:
    return {"X-CSRF-Token": TOKEN, "Origin": ORIGIN, **extra}


async def test_cookie_post_with_token_and_own_origin_is_let_through(client) -> None:
    response = await client.post("/x", json={}, headers=_good())
    assert (response.status_code, response.json()) == (200, {"reached": True})


async def test_safe_methods_need_no_token(client, refusals) -> None:
    response = await client.get("/x", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200 and refusals == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Origin": ORIGIN}, "token_missing"),
        ({"Origin": ORIGIN, "X-CSRF-Token": "0" * 64}, "token_mismatch"),
        ({"Origin": "https://evil.example", "X-CSRF-Token": TOKEN}, "origin_mismatch"),
        (
            {"Origin": "null", "Referer": "https://evil.example/page", "X-CSRF-Token": TOKEN},
            "origin_mismatch",
        ),
        ({"Origin": "null", "X-CSRF-Token": TOKEN}, "origin_missing"),
        ({"X-CSRF-Token": TOKEN}, "origin_missing"),
        ({"Sec-Fetch-Site": "cross-site", "Origin": ORIGIN, "X-CSRF-Token": TOKEN}, "cross_site"),
        (
            {
                "Sec-Fetch-Site": "same-site",
                "Origin": "http://sub.testserver",
                "X-CSRF-Token": TOKEN,
            },
            "origin_mismatch",
        ),
    ],
)
async def test_forged_cookie_requests_are_refused(client, refusals, headers, reason) -> None:
    response = await client.post("/x", json={}, headers=headers)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The request did not come from this site (CSRF check failed).",
        "code": "csrf_failed",
    }
    assert refusals == [("/x", reason)]


async def test_token_of_another_session_is_refused(client, refusals) -> None:
    other = CsrfTokens(SECRET).for_session("another-session")
    response = await client.delete("/x", headers={"X-CSRF-Token": other, "Origin": ORIGIN})
    assert response.status_code == 403 and refusals == [("/x", "token_mismatch")]


async def test_token_from_another_secret_key_is_refused(client, refusals) -> None:
    forged = CsrfTokens("t" * 40).for_session(COOKIE)
    response = await client.post("/x", json={}, headers={"X-CSRF-Token": forged, "Origin": ORIGIN})
    assert response.status_code == 403 and refusals == [("/x", "token_mismatch")]


async def test_referer_stands_in_for_a_null_origin(client) -> None:
    headers = _good(Origin="null", Referer=f"{ORIGIN}/chat/1")
    assert (await client.post("/x", json={}, headers=headers)).status_code == 200


async def test_same_origin_fetch_metadata_stands_in_for_no_origin(client) -> None:
    headers = _good(Origin="null", **{"Sec-Fetch-Site": "same-origin"})
    assert (await client.post("/x", json={}, headers=headers)).status_code == 200


async def test_bearer_callers_are_exempt_even_with_the_cookie(client, refusals) -> None:
    headers = {"Authorization": "Bearer sk-abc", "Origin": "https://evil.example"}
    response = await client.post("/x", json={}, headers=headers)
    assert response.status_code == 200 and refusals == []


async def test_configured_origin_replaces_the_host(refusals) -> None:
    app = _app(refusals, trusted_origins=("https://chat.example.com",))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
        c.cookies.set("token", COOKIE)
        own = await c.post("/x", json={}, headers=_good(Origin="https://chat.example.com"))
        host = await c.post("/x", json={}, headers=_good())
    assert (own.status_code, host.status_code) == (200, 403)
    assert refusals == [("/x", "origin_mismatch")]


async def test_sign_in_is_checked_for_origin_without_a_token(refusals) -> None:
    app = _app(refusals)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
        plain = await c.post("/signin", json={})
        own = await c.post("/signin", json={}, headers={"Origin": ORIGIN})
        evil = await c.post("/signin", json={}, headers={"Origin": "https://evil.example"})
        cross = await c.post("/signin", json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert [r.status_code for r in (plain, own, evil, cross)] == [200, 200, 403, 403]
    assert refusals == [("/signin", "origin_mismatch"), ("/signin", "cross_site")]


@pytest.mark.parametrize(
    "content",
    [
        {"data": {"a": "1"}},
        {"content": b"hello", "headers": {"Content-Type": "text/plain"}},
        {"files": {"f": ("a.txt", b"x")}},
        {"content": b"{}"},  # a body with no Content-Type at all
        {"content": b"", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ],
)
async def test_non_json_bodies_are_refused_with_415(content) -> None:
    app = _app([])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
        headers = {"Authorization": "Bearer t", **content.pop("headers", {})}
        response = await c.post("/x", headers=headers, **content)
    assert response.status_code == 415
    assert response.json() == {
        "detail": "Send the body as application/json.",
        "code": "unsupported_media_type",
    }


async def test_json_types_and_declared_other_bodies_pass() -> None:
    app = _app([])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
        auth = {"Authorization": "Bearer t"}
        json_ = await c.post("/x", json={}, headers=auth)
        charset = await c.post(
            "/x", content=b"{}", headers={**auth, "Content-Type": "application/json; charset=utf-8"}
        )
        empty = await c.post("/x", headers=auth)
        upload = await c.post("/upload/", files={"f": ("a.txt", b"x")}, headers=auth)
    assert [r.status_code for r in (json_, charset, empty, upload)] == [200, 200, 200, 200]


def test_a_bad_trusted_origin_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="is not an http"):
        _app([], trusted_origins=("chat.example.com",))
