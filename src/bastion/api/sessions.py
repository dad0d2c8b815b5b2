"""Sessions: ``/api/v1/auths/sessions`` for the caller's own, and
``/api/v1/users/{user_id}/sessions`` for an administrator's view of any account's.

A session that is not the caller's answers 404, as one that does not exist: an id says
nothing about whose it is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bastion.api.deps import AdminUser, AnyRole, ServicesDep
from bastion.auth.authenticate import Principal
from bastion.errors import BastionError, NotFound
from bastion.services import Services
from bastion.store.users import UserRecord

router = APIRouter(tags=["sessions"])


class NotASession(BastionError):
    status_code = 400
    code = "not_a_session"
    detail = "Only a signed-in session (not an API key) has sessions to manage."


def _current(principal: Principal) -> str:
    if principal.token is None:  # an API key is no session
        raise NotASession
    return principal.token.sid


@router.get("/api/v1/auths/sessions")
async def my_sessions(principal: AnyRole, services: ServicesDep) -> list[dict[str, Any]]:
    user = principal.user
    views = await services.sessions.listed(user.id, user.token_version, _current(principal))
    return [view.public() for view in views]


@router.post("/api/v1/auths/sessions/revoke-others")
async def revoke_other_sessions(
    request: Request, principal: AnyRole, services: ServicesDep
) -> dict[str, Any]:
    user = principal.user
    ended = await services.sessions.revoke_others(
        user.id, user.token_version, _current(principal), actor=principal, scope=request.scope
    )
    return {"status": True, "revoked": ended}


@router.delete("/api/v1/auths/sessions/{session_id}")
async def revoke_my_session(
    session_id: str, request: Request, principal: AnyRole, services: ServicesDep
) -> dict[str, bool]:
    _current(principal)
    user = principal.user
    await services.sessions.revoke(
        user.id,
        user.token_version,
        session_id,
        reason="revoked",
        actor=principal,
        scope=request.scope,
    )
    return {"status": True}


async def _account(services: Services, user_id: str) -> UserRecord:
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


@router.get("/api/v1/users/{user_id}/sessions")
async def user_sessions(
    user_id: str, principal: AdminUser, services: ServicesDep
) -> list[dict[str, Any]]:
    user = await _account(services, user_id)
    current = principal.token.sid if principal.token is not None else None
    views = await services.sessions.listed(user.id, user.token_version, current)
    return [view.public() for view in views]


@router.delete("/api/v1/users/{user_id}/sessions/{session_id}")
async def revoke_user_session(
    user_id: str, session_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, bool]:
    user = await _account(services, user_id)
    await services.sessions.revoke(
        user.id,
        user.token_version,
        session_id,
        reason="revoked_by_admin",
        actor=principal,
        scope=request.scope,
    )
    return {"status": True}
