"""``POST /api/chat/completions``: OpenAI-compatible, to whichever upstream serves the model.

With ``base_url=http://host/api`` the official ``openai`` client calls this route and
``/api/models`` unchanged. A direct route (``bastion.api.direct``): the caller, their
role and the costly-calls limit (counted in the authentication's round trip) are checked
here, by the functions the dependencies use.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bastion.api.deps import json_object, limited_principal, route_headers
from bastion.api.direct import direct
from bastion.auth.authenticate import RouteLimit
from bastion.auth.rbac import require_role
from bastion.chats.recorder import recording
from bastion.gateway.upstreams import InvalidCompletionRequest
from bastion.services import Services

router = APIRouter(tags=["completions"])


@direct(router, "POST", "/api/chat/completions")
async def chat_completions(request: Request) -> Response:
    services: Services = request.app.state.services
    route = RouteLimit("costly", services.settings.ratelimit.costly_rate_limit)
    principal = require_role(await limited_principal(request, route), ("user", "admin"))
    body = await json_object(request)
    if not isinstance(body.get("messages"), list):
        raise InvalidCompletionRequest("The body needs a list of messages.")
    await services.runtime.refresh(request.scope)  # upstreams changed by another process?
    entry = await services.gateway.resolve(principal, body.get("model"), request.scope)
    around = None
    if "chat_id" in body:  # a call about no chat does no extra work
        around = await recording(services.chats, principal.user.id, body, entry.id)
    return services.gateway.chat_completion(entry, body, around, headers=route_headers(principal))
