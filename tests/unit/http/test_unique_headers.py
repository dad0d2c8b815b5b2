"""A request must not carry two Authorization headers."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bastion.http.unique_headers import UniqueHeadersMiddleware


async def _seen(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.headers.get("authorization", ""))


APP = UniqueHeadersMiddleware(Starlette(routes=[Route("/", _seen)]), names=("Authorization",))


async def _get(headers: list[tuple[str, str]]) -> httpx.Response:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/", headers=headers)


async def test_two_authorization_headers_are_refused() -> None:
    response = await _get([("Authorization", "Basic YTpi"), ("Authorization", "Bearer t")])
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request repeats the Authorization header.",
        "code": "duplicate_header",
    }


async def test_one_authorization_header_passes() -> None:
    response = await _get([("Authorization", "Bearer t")])
    assert (response.status_code, response.text) == (200, "Bearer t")
