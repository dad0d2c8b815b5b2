"""``POST /api/chat/completions``: OpenAI-compatible, to whichever upstream serves the model.

With ``base_url=http://host/api`` the official ``openai`` client calls this route and
``/api/models`` unchanged.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bastion.api.deps import CostlyLimit, ServicesDep, json_object
from bastion.chats.recorder import recording
from bastion.gateway.upstreams import InvalidCompletionRequest

router = APIRouter(tags=["completions"])


@router.post("/api/chat/completions")
async def chat_completions(
    request: Request, principal: CostlyLimit, services: ServicesDep
) -> Response:
    body = await json_object(request)
    if not isinstance(body.get("messages"), list):
        raise InvalidCompletionRequest("The body needs a list of messages.")
    await services.runtime.refresh()  # upstreams changed by another process?
    entry = await services.gateway.resolve(principal, body.get("model"), request.scope)
    around = None
    if "chat_id" in body:  # a call about no chat does no extra work
        around = await recording(services.chats, principal.user.id, body, entry.id)
    return services.gateway.chat_completion(entry, body, around)
