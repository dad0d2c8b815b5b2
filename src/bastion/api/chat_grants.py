"""``/api/v1/chats/shared``: a chat shared read-only with given accounts or groups.

The owner sets the list in open-webui's access-grant shape; only ``read`` exists (a
shared chat is never written by anyone but its owner), and ``*`` (everyone) is refused:
that is what the share link is for. Each read checks the grants and the reader's groups
as they are now.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from bastion.api.deps import ServicesDep, VerifiedUser, known_users, require_permission
from bastion.errors import BastionError, NotFound
from bastion.jsondata import StoredText
from bastion.services import Services
from bastion.store.chat_grants import Grant

router = APIRouter(prefix="/api/v1/chats/shared", tags=["chats"])


class GrantForm(BaseModel):
    principal_type: Literal["user", "group"]
    principal_id: Annotated[StoredText, StringConstraints(min_length=1, max_length=100)]
    permission: Literal["read"] = "read"


class AccessForm(BaseModel):
    access_grants: list[GrantForm] = Field(max_length=1_000)


class EveryoneRefused(BastionError):
    status_code = 422
    code = "grant_to_everyone"
    detail = "A chat is shared with everyone by its share link, not by a grant."


async def _grants(services: Services, form: AccessForm) -> list[Grant]:
    if any(g.principal_id == "*" for g in form.access_grants):
        raise EveryoneRefused
    users = [g.principal_id for g in form.access_grants if g.principal_type == "user"]
    groups = [g.principal_id for g in form.access_grants if g.principal_type == "group"]
    await known_users(services, users)
    for group_id in groups:
        if await services.groups.get(group_id) is None:
            raise NotFound("No such group.")
    return [Grant(g.principal_type, g.principal_id) for g in form.access_grants]


@router.get("")
async def shared_with_me(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    groups = await services.groups.groups_of(principal.user.id)
    chats = await services.chat_grants.shared_with(principal.user.id, groups)
    return [
        {
            "id": chat.id,
            "title": chat.title,
            "created_at": int(chat.created_at.timestamp()),
            "updated_at": int(chat.updated_at.timestamp()),
        }
        for chat in chats
    ]


@router.get("/{chat_id}")
async def read_granted(
    chat_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    groups = await services.groups.groups_of(principal.user.id)
    chat = await services.chat_grants.readable(chat_id, principal.user.id, groups)
    if chat is None:
        raise NotFound("No such chat.")
    return chat.read_only()


@router.get("/{chat_id}/access")
async def get_access(
    chat_id: str, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    grants = await services.chat_grants.of(principal.user.id, chat_id)
    if grants is None:
        raise NotFound("No such chat.")
    return {"access_grants": [grant.public() for grant in grants]}


@router.post("/{chat_id}/access/update")
async def update_access(
    chat_id: str,
    form: AccessForm,
    request: Request,
    principal: VerifiedUser,
    services: ServicesDep,
) -> dict[str, Any]:
    if form.access_grants:
        await require_permission(services, request, principal, "chat.share")
    grants = await _grants(services, form)
    if not await services.chat_grants.replace(principal.user.id, chat_id, grants):
        raise NotFound("No such chat.")
    services.events.record(
        "chat.access_changed",
        scope=request.scope,
        actor=principal,
        chat_id=chat_id,
        grants=[f"{grant.principal_type}:{grant.principal_id}" for grant in grants],
    )
    return {"access_grants": [grant.public() for grant in grants]}


@router.delete("/{chat_id}/access")
async def revoke_access(
    chat_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    return await update_access(chat_id, AccessForm(access_grants=[]), request, principal, services)
