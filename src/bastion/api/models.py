"""``/api/models``: the models the caller may use; admin routes for their access lists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from bastion.api.deps import AdminUser, ServicesDep, current_principal, known_users
from bastion.api.direct import direct
from bastion.auth.rbac import require_role
from bastion.gateway.upstreams import NO_UPSTREAM
from bastion.jsondata import StoredText
from bastion.services import Services
from bastion.store.model_access import AccessList

router = APIRouter(tags=["models"])

Name = Field(min_length=1, max_length=100)


class AccessForm(BaseModel):
    user_ids: list[StoredText] = Field(default_factory=list, max_length=10_000)
    groups: list[Annotated[StoredText, StringConstraints(max_length=100)]] = Field(
        default_factory=list, max_length=1_000
    )


# A direct route (bastion.api.direct): every program and page load lists the models.
@direct(router, "GET", "/api/models")
async def list_models(request: Request) -> dict[str, Any]:
    services: Services = request.app.state.services
    principal = require_role(await current_principal(request), ("user", "admin"))
    await services.runtime.refresh(request.scope)  # upstreams changed by another process?
    models = await services.gateway.usable_models(principal)
    answer: dict[str, Any] = {"object": "list", "data": [model.public() for model in models]}
    if principal.user.role == "admin" and not services.gateway.catalog.upstreams:
        # Only the administrator can fix it, and an empty list alone says nothing.
        answer["notice"] = NO_UPSTREAM
    return answer


@router.get("/api/v1/models/{model_id:path}/access")
async def get_model_access(model_id: str, _: AdminUser, services: ServicesDep) -> dict[str, object]:
    return (await services.model_access.get(model_id)).public()


@router.post("/api/v1/models/{model_id:path}/access")
async def set_model_access(
    model_id: str, form: AccessForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, object]:
    access = AccessList(
        model_id,
        tuple(await known_users(services, form.user_ids)),
        tuple(dict.fromkeys(group.strip() for group in form.groups if group.strip())),
    )
    await services.model_access.set(access)
    services.events.record(
        "model.access_changed",
        scope=request.scope,
        actor=principal,
        model=model_id,
        user_ids=list(access.user_ids),
        groups=list(access.groups),
    )
    return access.public()
