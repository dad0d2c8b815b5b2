"""``/api/v1/groups``: open-webui's groups, named in model access lists and granting
permissions (:mod:`bastion.auth.permissions`) to their members.

Every change is a security event: who may use what is changed here. A member list names
existing accounts only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints, field_validator

from bastion.api.deps import AdminUser, ServicesDep, VerifiedUser, known_users
from bastion.auth.authenticate import Principal
from bastion.auth.permissions import PERMISSIONS, document, granted
from bastion.errors import NotFound
from bastion.jsondata import StoredText
from bastion.services import Services
from bastion.store.groups import GroupRecord

router = APIRouter(prefix="/api/v1/groups", tags=["groups"])

GroupName = Annotated[
    StoredText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
UserIds = list[Annotated[StoredText, StringConstraints(max_length=36)]]


class PermissionsForm(BaseModel):
    """open-webui's nested shape; sections and names Bastion does not know are refused."""

    features: dict[str, bool] = Field(default_factory=dict)
    chat: dict[str, bool] = Field(default_factory=dict)

    @field_validator("features", "chat")
    @classmethod
    def _known(cls, values: dict[str, bool], info: Any) -> dict[str, bool]:
        known = {p.split(".")[1] for p in PERMISSIONS if p.startswith(info.field_name + ".")}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown permission {info.field_name}.{unknown[0]}")
        return values


class GroupForm(BaseModel):
    name: GroupName
    description: Annotated[StoredText, StringConstraints(max_length=2_000)] = ""
    permissions: PermissionsForm = Field(default_factory=PermissionsForm)


class GroupUpdateForm(GroupForm):
    # open-webui's update may carry the whole member list.
    user_ids: UserIds | None = Field(default=None, max_length=10_000)


class UserIdsForm(BaseModel):
    user_ids: UserIds = Field(max_length=10_000)


def _permissions(form: PermissionsForm) -> dict[str, dict[str, bool]]:
    return document(granted(form.model_dump()))


async def _group(services: Services, group_id: str) -> GroupRecord:
    group = await services.groups.get(group_id)
    if group is None:
        raise NotFound("No such group.")
    return group


def _record(
    services: Services, request: Request, principal: Principal, event: str, **details: Any
) -> None:
    services.events.record(event, scope=request.scope, actor=principal, **details)


@router.get("/")
async def list_groups(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    """Every group for admins; a member sees the groups they belong to."""
    member = None if principal.user.role == "admin" else principal.user.id
    return [group.public() for group in await services.groups.all(member_id=member)]


@router.post("/create")
async def create_group(
    form: GroupForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    group = await services.groups.create(
        name=form.name,
        description=form.description,
        permissions=_permissions(form.permissions),
        created_by=principal.user.id,
    )
    _record(
        services,
        request,
        principal,
        "group.created",
        group=group.id,
        name=group.name,
        permissions=group.permissions,
    )
    return group.public()


@router.get("/id/{group_id}")
async def get_group(group_id: str, _: AdminUser, services: ServicesDep) -> dict[str, Any]:
    return (await _group(services, group_id)).public()


@router.post("/id/{group_id}/update")
async def update_group(
    group_id: str,
    form: GroupUpdateForm,
    request: Request,
    principal: AdminUser,
    services: ServicesDep,
) -> dict[str, Any]:
    before = await _group(services, group_id)
    permissions = _permissions(form.permissions)
    await services.groups.update(
        group_id, name=form.name, description=form.description, permissions=permissions
    )
    _record(
        services,
        request,
        principal,
        "group.updated",
        group=group_id,
        name=form.name,
        old_permissions=before.permissions,
        new_permissions=permissions,
    )
    if form.user_ids is not None:
        await _set_members(services, request, principal, group_id, form.user_ids)
    return (await _group(services, group_id)).public()


@router.post("/id/{group_id}/users")
async def group_users(group_id: str, _: AdminUser, services: ServicesDep) -> list[dict[str, Any]]:
    await _group(services, group_id)
    users = [
        await services.users.get(user_id) for user_id in await services.groups.members(group_id)
    ]
    return [user.public() for user in users if user is not None]


@router.post("/id/{group_id}/users/add")
async def add_users(
    group_id: str, form: UserIdsForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    await _group(services, group_id)
    user_ids = await known_users(services, form.user_ids)
    await services.groups.add_members(group_id, user_ids)
    _record(services, request, principal, "group.members_changed", group=group_id, added=user_ids)
    return (await _group(services, group_id)).public()


@router.post("/id/{group_id}/users/remove")
async def remove_users(
    group_id: str, form: UserIdsForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    await _group(services, group_id)
    await services.groups.remove_members(group_id, form.user_ids)
    _record(
        services,
        request,
        principal,
        "group.members_changed",
        group=group_id,
        removed=list(form.user_ids),
    )
    return (await _group(services, group_id)).public()


@router.delete("/id/{group_id}/delete")
async def delete_group(
    group_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> bool:
    group = await _group(services, group_id)
    await services.groups.delete(group_id)
    _record(services, request, principal, "group.deleted", group=group_id, name=group.name)
    return True


# Bastion's first group routes, by the id a group named only by an access list has.
@router.get("/{group_id}/members")
async def get_group_members(
    group_id: str, _: AdminUser, services: ServicesDep
) -> dict[str, object]:
    return {"name": group_id, "user_ids": await services.groups.members(group_id)}


@router.post("/{group_id}/members")
async def set_group_members(
    group_id: Annotated[StoredText, StringConstraints(min_length=1, max_length=100)],
    form: UserIdsForm,
    request: Request,
    principal: AdminUser,
    services: ServicesDep,
) -> dict[str, object]:
    user_ids = await _set_members(services, request, principal, group_id, form.user_ids)
    return {"name": group_id, "user_ids": user_ids}


async def _set_members(
    services: Services, request: Request, principal: Principal, group_id: str, ids: list[str]
) -> list[str]:
    user_ids = await known_users(services, ids)
    await services.groups.set_members(group_id, user_ids)
    _record(
        services, request, principal, "group.members_changed", group=group_id, user_ids=user_ids
    )
    return user_ids
