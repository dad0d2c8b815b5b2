"""``/api/v1/users``: account administration, admins only.

Changing a role, disabling or deleting an account ends every session it has: a demoted
admin's old token must not keep admin rights until it expires.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from bastion.api.deps import AdminUser, ServicesDep
from bastion.auth.authenticate import Principal
from bastion.config import Role
from bastion.errors import Conflict, NotFound
from bastion.services import Services
from bastion.store.users import UserRecord

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class RoleForm(BaseModel):
    id: str
    role: Role


class NotOnYourself(Conflict):
    code = "cannot_modify_self"
    detail = "Administrators cannot demote, disable or delete their own account."


def _admin_view(user: UserRecord) -> dict[str, Any]:
    return {
        **user.public(),
        "is_active": user.is_active,
        "locked": user.locked,
        "created_at": user.created_at.isoformat(),
    }


def _record_event(
    services: Services,
    request: Request,
    principal: Principal,
    event: str,
    target: str,
    **details: Any,
) -> None:
    services.events.record(
        event,
        scope=request.scope,
        actor=principal,
        target_user_id=target,
        **details,
    )


async def _target(services: Services, principal: Principal, user_id: str) -> UserRecord:
    # Locking out the last administrator cannot be undone from the API.
    if user_id == principal.user.id:
        raise NotOnYourself
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


@router.get("/")
async def list_users(
    _: AdminUser,
    services: ServicesDep,
    skip: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    users, total = await services.users.list(skip=skip, limit=limit)
    return {"users": [_admin_view(user) for user in users], "total": total}


@router.get("/{user_id}")
async def get_user(user_id: str, _: AdminUser, services: ServicesDep) -> dict[str, Any]:
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    return _admin_view(user)


@router.post("/update/role")
async def update_role(
    form: RoleForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    before = await _target(services, principal, form.id)
    await services.users.set_role(form.id, form.role)
    _record_event(
        services, request, principal, "user.role_change", form.id, old=before.role, new=form.role
    )
    updated = await services.users.get(form.id)
    assert updated is not None
    return _admin_view(updated)


@router.post("/{user_id}/disable")
async def disable_user(
    user_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    return await _set_active(services, request, principal, user_id, active=False)


@router.post("/{user_id}/enable")
async def enable_user(
    user_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    return await _set_active(services, request, principal, user_id, active=True)


async def _set_active(
    services: Services, request: Request, principal: Principal, user_id: str, *, active: bool
) -> dict[str, Any]:
    await _target(services, principal, user_id)
    await services.users.set_active(user_id, active)
    _record_event(
        services, request, principal, "user.enabled" if active else "user.disabled", user_id
    )
    return {"status": True}


@router.post("/{user_id}/revoke-sessions")
async def revoke_sessions(
    user_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    await services.users.revoke_all_tokens(user_id)
    _record_event(services, request, principal, "auth.token_revoked", user_id, all_tokens=True)
    return {"status": True}


@router.post("/{user_id}/unlock")
async def unlock_user(
    user_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    """Lift a sign-in lockout and every per-address block on the account."""
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    await services.lockouts.unlock(user)
    _record_event(services, request, principal, "auth.unlock", user_id, was_locked=user.locked)
    return {"status": True}


@router.delete("/{user_id}")
async def delete_user(
    user_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, bool]:
    await _target(services, principal, user_id)
    # Uploads live on disk, beyond the database's cascade: remove them first.
    files = await services.files.delete_all(user_id)
    await services.users.delete(user_id)
    _record_event(services, request, principal, "user.deleted", user_id, files_deleted=files)
    return {"status": True}
