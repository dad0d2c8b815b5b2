"""``POST /api/chat/completions``: OpenAI-compatible, to whichever upstream serves the model.

With ``base_url=http://host/api`` the official ``openai`` client calls this route and
``/api/models`` unchanged.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bastion.api.deps import CostlyLimit, ServicesDep
from bastion.gateway.upstreams import GatewayError, InvalidCompletionRequest
from bastion.jsondata import InvalidJSON, parse_json

router = APIRouter(tags=["completions"])


async def gateway_error(_: Request, exc: Exception) -> JSONResponse:
    """Gateway errors in the OpenAI format, which its clients read, with detail and code."""
    assert isinstance(exc, GatewayError)
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = parse_json(await request.body())
    except InvalidJSON as exc:
        raise InvalidCompletionRequest(exc.detail) from None
    if not isinstance(body, dict):
        raise InvalidCompletionRequest
    return body


@router.post("/api/chat/completions")
async def chat_completions(
    request: Request, principal: CostlyLimit, services: ServicesDep
) -> Response:
    body = await json_object(request)
    if not isinstance(body.get("messages"), list):
        raise InvalidCompletionRequest("The body needs a list of messages.")
    entry = await services.gateway.resolve(principal, body.get("model"), request.scope)
    return services.gateway.chat_completion(entry, body)
