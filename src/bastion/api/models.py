"""``/api/models``: the models the caller may use; admin routes for access lists and groups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bastion.api.deps import AdminUser, ServicesDep, VerifiedUser
from bastion.errors import NotFound
from bastion.gateway.upstreams import NO_UPSTREAM
from bastion.jsondata import StoredText
from bastion.services import Services
from bastion.store.model_access import AccessList

router = APIRouter(tags=["models"])

Name = Field(min_length=1, max_length=100)


class AccessForm(BaseModel):
    user_ids: list[StoredText] = Field(default_factory=list, max_length=10_000)
    groups: list[StoredText] = Field(default_factory=list, max_length=1_000)


class MembersForm(BaseModel):
    user_ids: list[StoredText] = Field(max_length=10_000)


@router.get("/api/models")
async def list_models(principal: VerifiedUser, services: ServicesDep) -> dict[str, Any]:
    models = await services.gateway.usable_models(principal)
    answer: dict[str, Any] = {"object": "list", "data": [model.public() for model in models]}
    if principal.user.role == "admin" and not services.gateway.catalog.upstreams:
        # Only the administrator can fix it, and an empty list alone says nothing.
        answer["notice"] = NO_UPSTREAM
    return answer


async def _known_users(services: Services, user_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(user_ids))
    for user_id in unique:
        if await services.users.get(user_id) is None:
            raise NotFound("No such user.")
    return unique


@router.get("/api/v1/models/{model_id:path}/access")
async def get_model_access(model_id: str, _: AdminUser, services: ServicesDep) -> dict[str, object]:
    return (await services.model_access.get(model_id)).public()


@router.post("/api/v1/models/{model_id:path}/access")
async def set_model_access(
    model_id: str, form: AccessForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, object]:
    access = AccessList(
        model_id,
        tuple(await _known_users(services, form.user_ids)),
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


@router.get("/api/v1/groups/{name}/members")
async def get_group_members(name: str, _: AdminUser, services: ServicesDep) -> dict[str, object]:
    return {"name": name, "user_ids": await services.model_access.members(name)}


@router.post("/api/v1/groups/{name}/members")
async def set_group_members(
    name: StoredText,
    form: MembersForm,
    request: Request,
    principal: AdminUser,
    services: ServicesDep,
) -> dict[str, object]:
    user_ids = await _known_users(services, form.user_ids)
    await services.model_access.set_members(name, user_ids)
    services.events.record(
        "group.members_changed",
        scope=request.scope,
        actor=principal,
        group=name,
        user_ids=user_ids,
    )
    return {"name": name, "user_ids": user_ids}
