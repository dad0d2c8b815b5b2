"""Direct routes: the endpoint gets the request alone, the route keeps FastAPI's rest."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse

from bastion.api.direct import DirectRoute, direct
from bastion.api.errors import install_error_handlers
from bastion.errors import NotFound


def _app() -> FastAPI:
    router = APIRouter(prefix="/things", tags=["things"])

    @direct(router, "GET", "/{name}")
    async def thing(request: Request) -> dict[str, str]:
        name = request.path_params["name"]
        if name == "missing":
            raise NotFound("No such thing.")
        return {"name": name, "seen": "é"}

    @direct(router, "POST", "/text")
    async def text(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode().upper(), status_code=201)

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    return app


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_dict_is_sent_as_json_and_a_response_as_it_is() -> None:
    async with await _client(_app()) as client:
        found = await client.get("/things/lamp")
        posted = await client.post("/things/text", content=b"hello")
        wrong_method = await client.post("/things/lamp")
    assert found.status_code == 200
    assert found.headers["content-type"] == "application/json"
    assert found.json() == {"name": "lamp", "seen": "é"}
    assert (posted.status_code, posted.text) == (201, "HELLO")
    assert wrong_method.status_code == 405


async def test_errors_go_through_the_error_handlers() -> None:
    async with await _client(_app()) as client:
        missing = await client.get("/things/missing")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No such thing.", "code": "not_found"}


def test_the_route_stays_in_the_openapi_document() -> None:
    paths = _app().openapi()["paths"]
    assert set(paths["/things/{name}"]) == {"get"}
    assert paths["/things/{name}"]["get"]["tags"] == ["things"]


def test_an_endpoint_taking_more_than_the_request_is_refused() -> None:
    router = APIRouter()

    async def endpoint(request: Request, name: str) -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="takes only `request`"):
        router.add_api_route("/", endpoint, route_class_override=DirectRoute)
