"""One error body, whichever layer refused: the app's handlers, the raw-ASGI middleware and
the gateway all write ``bastion.errors.render``'s bytes."""

from __future__ import annotations

import pytest
from starlette.responses import JSONResponse
from starlette.types import Message

from bastion.api.errors import RequestInvalid
from bastion.errors import BastionError, render
from bastion.gateway.upstreams import ModelNotFound
from bastion.http.responses import send_error
from tests.support import Bastion


@pytest.mark.parametrize(
    "error",
    [
        BastionError("Der Name »Ärger« ist schon vergeben.", code="conflict"),
        RequestInvalid([{"loc": ["body", "email"], "msg": "value is not an e-mail"}]),
        ModelNotFound(),
    ],
    ids=["non-ascii", "with-extra-fields", "gateway"],
)
def test_render_writes_what_starlette_json_response_writes(error: BastionError) -> None:
    assert render(error) == JSONResponse(error.body()).body


async def test_middleware_refusals_and_handler_errors_share_the_bytes() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    error = BastionError("Zu groß.", code="payload_too_large", status_code=413)
    await send_error(send, error)

    assert sent[1]["body"] == render(error)
    assert sent[1]["body"].decode() == '{"detail":"Zu groß.","code":"payload_too_large"}'


def test_gateway_errors_carry_the_openai_shape_beside_detail_and_code() -> None:
    body = ModelNotFound().body()
    assert body["detail"] == body["error"]["message"] == "No such model."
    assert body["code"] == body["error"]["code"] == "model_not_found"


async def test_ready_answers_503_in_the_error_shape_when_the_database_is_gone(
    bastion: Bastion, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await bastion.client.get("/ready")).json() == {"status": True, "database": "ok"}

    async def unreachable() -> bool:
        return False

    monkeypatch.setattr(bastion.services.db, "ping", unreachable)
    response = await bastion.client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": False,
        "database": "unreachable",
        "detail": "The database is unreachable.",
        "code": "not_ready",
    }
