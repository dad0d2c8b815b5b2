"""``/api/v1/users``: account administration (admins), and each account's own UI data.

Changing a role or a password, disabling or deleting an account ends every session it
has: a demoted admin's old token must not keep admin rights until it expires. The primary
admin (the first account) is changed only by itself, and the last active admin is never
demoted, disabled or deleted.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, EmailStr

from bastion.api.deps import AdminUser, ServicesDep, VerifiedUser
from bastion.api.forms import Name, Password, ProfileImageUrl, Skip
from bastion.auth.authenticate import Principal
from bastion.auth.permissions import document
from bastion.auth.roles import Role
from bastion.errors import BastionError, Conflict, Forbidden, NotFound
from bastion.files.data_url import profile_image
from bastion.jsondata import StoredJSON
from bastion.services import Services
from bastion.store.users import UserRecord

router = APIRouter(prefix="/api/v1/users", tags=["users"])


PAGE_SIZE = 30  # open-webui's page of users
DOCUMENT_MAX_BYTES = 64 * 1024


class RoleForm(BaseModel):
    id: str
    role: Role


class UserUpdateForm(BaseModel):
    """open-webui's form; a field left out keeps its value."""

    name: Name | None = None
    email: EmailStr | None = None
    role: Role | None = None
    password: Password | None = None
    profile_image_url: ProfileImageUrl | None = None


class NotOnYourself(Conflict):
    code = "cannot_modify_self"
    detail = "Administrators cannot demote, disable or delete their own account."


class PrimaryAdminProtected(Forbidden):
    code = "primary_admin_protected"
    detail = "The primary administrator's account can only be changed by itself."


class DocumentTooLarge(BastionError):
    status_code = 413
    code = "document_too_large"
    detail = f"The settings are larger than {DOCUMENT_MAX_BYTES // 1024} KiB."


def _admin_view(user: UserRecord) -> dict[str, Any]:
    return {
        **user.public(),
        "is_active": user.is_active,
        "locked": user.locked,
        "is_primary": user.is_primary,
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


async def _target(
    services: Services, principal: Principal, user_id: str, *, self_allowed: bool = False
) -> UserRecord:
    # Locking out the last administrator cannot be undone from the API.
    if user_id == principal.user.id and not self_allowed:
        raise NotOnYourself
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.is_primary and user_id != principal.user.id:
        raise PrimaryAdminProtected
    return user


@router.get("/")
async def list_users(
    _: AdminUser,
    services: ServicesDep,
    query: Annotated[str | None, Query(max_length=200)] = None,
    order_by: Literal["created_at", "updated_at", "name", "email", "role"] = "created_at",
    direction: Literal["asc", "desc"] = "asc",
    page: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    skip: Skip = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """open-webui's ``?query=&order_by=&direction=&page=`` (30 a page), or ``skip``/``limit``."""
    if page is not None:
        skip, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE
    users, total = await services.users.list(
        skip=skip, limit=limit, query=query, order_by=order_by, descending=direction == "desc"
    )
    return {"users": [_admin_view(user) for user in users], "total": total}


# Before /{user_id}: these paths are the caller's own, open to every verified account.
@router.get("/user/settings")
async def get_own_settings(principal: VerifiedUser, services: ServicesDep) -> dict[str, Any]:
    return await services.users.document(principal.user.id, "settings") or {}


@router.post("/user/settings")
@router.post("/user/settings/update")
async def update_own_settings(
    form: StoredJSON, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """Replaces the UI's preferences (open-webui's shape: whatever its UI keeps)."""
    await services.users.set_document(principal.user.id, "settings", _capped(form))
    return form


@router.get("/permissions")
async def own_permissions(principal: VerifiedUser, services: ServicesDep) -> dict[str, Any]:
    """The caller's permissions in open-webui's nested shape (what the UI may offer)."""
    return document(await services.permissions.of(principal))


@router.get("/groups")
async def own_groups(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    return [group.public() for group in await services.groups.all(member_id=principal.user.id)]


@router.get("/user/info")
async def get_own_info(principal: VerifiedUser, services: ServicesDep) -> dict[str, Any]:
    return await services.users.document(principal.user.id, "info") or {}


@router.post("/user/info/update")
async def update_own_info(
    form: StoredJSON, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    """Merges into the account's info, as open-webui does."""
    info = {**(await services.users.document(principal.user.id, "info") or {}), **form}
    await services.users.set_document(principal.user.id, "info", _capped(info))
    return info


def _capped(document: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
    if size > DOCUMENT_MAX_BYTES:
        raise DocumentTooLarge
    return document


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


@router.post("/{user_id}/update")
async def update_user(
    user_id: str,
    form: UserUpdateForm,
    request: Request,
    principal: AdminUser,
    services: ServicesDep,
) -> dict[str, Any]:
    """open-webui's edit of an account. A new password or role signs the account out
    everywhere; an admin edits their own name, e-mail and password here, not their role."""
    before = await _target(services, principal, user_id, self_allowed=True)
    role = form.role or before.role
    if user_id == principal.user.id and role != before.role:
        raise NotOnYourself
    name = form.name if form.name is not None else before.name
    email = before.email if form.email is None else form.email.strip().lower()
    password_hash = None
    if form.password is not None:
        services.password_policy.check(form.password, context=(email, name))
        password_hash = await services.hasher.hash_async(form.password)
    picture = before.profile_image_url
    if form.profile_image_url is not None:
        picture = profile_image(form.profile_image_url)
    revoked = await services.users.update_account(
        user_id,
        name=name,
        email=email,
        role=role,
        profile_image_url=picture,
        password_hash=password_hash,
    )
    changed = [
        field
        for field, old, new in (
            ("name", before.name, name),
            ("email", before.email, email),
            ("role", before.role, role),
            ("profile_image_url", before.profile_image_url, picture),
        )
        if old != new
    ] + (["password"] if password_hash is not None else [])
    _record_event(services, request, principal, "user.updated", user_id, fields=changed)
    if role != before.role:
        _record_event(
            services, request, principal, "user.role_change", user_id, old=before.role, new=role
        )
    if revoked:
        reason = "password_reset" if password_hash is not None else "role_change"
        _record_event(
            services,
            request,
            principal,
            "auth.token_revoked",
            user_id,
            all_tokens=True,
            reason=reason,
        )
    updated = await services.users.get(user_id)
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
