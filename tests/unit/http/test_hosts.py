"""Allowed hosts, and redirects that never name the Host the client sent."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from bastion.http.hosts import AllowedHostsMiddleware, validate_host_patterns


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _away(request: Request) -> RedirectResponse:
    return RedirectResponse("https://elsewhere.example/x")


INNER = Starlette(routes=[Route("/items/", _ok), Route("/away", _away)])


def _client(*hosts: str) -> httpx.AsyncClient:
    app = AllowedHostsMiddleware(INNER, allowed_hosts=hosts or ("*",))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("chat.example.com", 200),
        ("CHAT.example.com:8443", 200),
        ("a.b.example.com", 200),
        ("example.com", 400),  # *.example.com covers subdomains, not the domain itself
        ("evil.example", 400),
        ("chat.example.com.evil.example", 400),
    ],
)
async def test_only_allowed_hosts_are_answered(host: str, status: int) -> None:
    async with _client("chat.example.com", "*.example.com") as client:
        response = await client.get("/items/", headers={"Host": host})
    assert response.status_code == status
    if status == 400:
        assert response.json() == {
            "detail": "This server does not answer for that host name.",
            "code": "host_not_allowed",
        }


async def test_slash_redirect_is_relative_whatever_the_host() -> None:
    async with _client() as client:
        response = await client.get("/items", headers={"Host": "evil.example"})
    assert (response.status_code, response.headers["location"]) == (307, "/items/")


async def test_redirects_elsewhere_are_left_alone() -> None:
    async with _client() as client:
        response = await client.get("/away")
    assert response.headers["location"] == "https://elsewhere.example/x"


@pytest.mark.parametrize("value", [["*", "a.example"], ["bad host"], ["a.*.example"], []])
def test_bad_patterns_are_refused(value: list[str]) -> None:
    with pytest.raises(ValueError):
        validate_host_patterns(value)
