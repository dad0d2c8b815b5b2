"""``/ollama/…``: the Ollama API of the first Ollama server, access-controlled.

Admins reach every endpoint. Other users reach only reading endpoints and the calls of a
model they may use: pulling, deleting, copying or creating models would let any account
fill the disk or remove what others use.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from bastion.api.deps import ServicesDep, VerifiedUser, json_object
from bastion.auth.authenticate import Principal
from bastion.errors import Forbidden
from bastion.gateway.upstreams import ModelNotFound
from bastion.services import Services

router = APIRouter(tags=["ollama"])

LISTS = {("GET", "api/tags"), ("GET", "api/ps")}  # answered with the caller's models only
READ = {("GET", "api/version")}
MODEL_CALLS = {("POST", "api/show"), ("POST", "api/chat"), ("POST", "api/generate")}


class OllamaEndpointDenied(Forbidden):
    code = "ollama_endpoint_denied"
    detail = "This Ollama endpoint is for administrators."


async def _usable_names(services: Services, principal: Principal, names: list[str]) -> set[str]:
    ids = {name: await services.gateway.ollama_model_id(name) for name in names}
    usable = set(await services.gateway.access.usable(principal, [i for i in ids.values() if i]))
    return {name for name, model_id in ids.items() if model_id in usable}


async def ollama(
    path: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> Any:
    await services.runtime.refresh(request.scope)  # upstreams changed by another process?
    gateway = services.gateway
    if (request.method, path) == ("GET", "api/version") and not gateway.has_ollama():
        return {"version": False}  # open-webui's answer when Ollama is off
    query = request.url.query
    target = "/" + path + (f"?{query}" if query else "")
    if principal.user.role == "admin":
        return gateway.ollama_relay(request.method, target, await request.body() or None)

    endpoint = (request.method, path)
    if endpoint in READ:
        return gateway.ollama_relay("GET", target, None)
    if endpoint in LISTS:
        answer = await gateway.ollama_json("GET", "/" + path)
        models = answer.get("models") if isinstance(answer, dict) else None
        models = [m for m in models or [] if isinstance(m, dict)]
        names = [str(m.get("model") or m.get("name")) for m in models]
        usable = await _usable_names(services, principal, names)
        return {"models": [m for m, n in zip(models, names, strict=True) if n in usable]}
    if endpoint in MODEL_CALLS:
        body = await json_object(request)
        name = body.get("model") or body.get("name")
        model_id = await gateway.ollama_model_id(name)
        if model_id is None:
            raise ModelNotFound
        await gateway.resolve(principal, model_id, request.scope)
        # The parsed body goes on, not the raw bytes: a second "model" key in the raw
        # JSON could otherwise name another model than the one checked.
        return gateway.ollama_relay("POST", "/" + path, json.dumps(body).encode())
    services.events.record(
        "ollama.endpoint_denied",
        outcome="denied",
        scope=request.scope,
        actor=principal,
        method=request.method,
        path=path[:200],
    )
    raise OllamaEndpointDenied


for _method in ("GET", "POST", "PUT", "DELETE"):
    router.add_api_route(
        "/ollama/{path:path}", ollama, methods=[_method], name=f"ollama_{_method.lower()}"
    )
