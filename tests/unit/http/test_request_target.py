"""A path with a control character is refused before any route sees it."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bastion.http.request_target import RequestTargetMiddleware


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["id"])


APP = RequestTargetMiddleware(Starlette(routes=[Route("/items/{id}", _echo)]))


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


@pytest.mark.parametrize("encoded", ["%00", "%09", "%0a", "%0D", "%1f", "%7f"])
async def test_a_control_character_in_the_path_is_refused(encoded: str) -> None:
    response = await _get(f"/items/a{encoded}b")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request path holds a control character.",
        "code": "invalid_path",
    }
    assert response.headers["connection"] == "close"


async def test_other_characters_pass_unchanged() -> None:
    response = await _get("/items/%C3%BCn%20i")
    assert (response.status_code, response.text) == (200, "ün i")
