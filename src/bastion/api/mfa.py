"""Second factors: ``/api/v1/auths/mfa/...`` (the caller's own), the second step of a
sign-in (``/api/v1/auths/signin/mfa``), and an administrator's reset of an account's.

A change of factors ends every token of the account; the caller gets a fresh one, as
with a password change, so only their other sessions end.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, StringConstraints

from bastion.api.auths import _start_session
from bastion.api.deps import AdminUser, AnyRole, ServicesDep, client_ip, hit_limit
from bastion.api.forms import Password
from bastion.errors import InvalidCredentials, NotFound
from bastion.services import Services
from bastion.store.users import UserRecord

router = APIRouter(prefix="/api/v1", tags=["mfa"])

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# 256 bits in URL-safe base64 are 43 characters; anything far longer is not one of ours.
MfaToken = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class CodeForm(BaseModel):
    code: Code


class DisableForm(BaseModel):
    password: Password
    code: Code


class SecondStepForm(BaseModel):
    mfa_token: MfaToken
    code: Code


async def _fresh(services: Services, user_id: str) -> UserRecord:
    refreshed = await services.users.get(user_id)
    assert refreshed is not None
    return refreshed


@router.get("/auths/mfa")
async def status(principal: AnyRole, services: ServicesDep) -> dict[str, Any]:
    """Which factors the caller has, and whether the policy makes one necessary."""
    return await services.mfa.status(principal.user)


@router.post("/auths/mfa/totp/setup")
async def totp_setup(principal: AnyRole, services: ServicesDep) -> dict[str, str]:
    return await services.mfa.setup(principal.user)


@router.post("/auths/mfa/totp/confirm")
async def totp_confirm(
    form: CodeForm, request: Request, response: Response, principal: AnyRole, services: ServicesDep
) -> dict[str, Any]:
    user = principal.user
    codes = await services.mfa.confirm(user, form.code, request.scope)
    # Shown this once: only their hashes are kept.
    session = await _start_session(request, response, services, await _fresh(services, user.id))
    return {**session, "recovery_codes": codes}


@router.post("/auths/mfa/totp/disable")
async def totp_disable(
    form: DisableForm,
    request: Request,
    response: Response,
    principal: AnyRole,
    services: ServicesDep,
) -> dict[str, Any]:
    user = principal.user
    # A stolen session may not turn the factor off without the password and a code.
    await hit_limit(
        services,
        request,
        response,
        "password_change",
        [(services.settings.ratelimit.password_change_rate_limit, f"password:{user.id}")],
        user_id=user.id,
    )
    if not (await services.hasher.verify_async(form.password, user.password_hash)).ok:
        raise InvalidCredentials("The password is incorrect.")
    await services.mfa.disable(user, form.code, request.scope)
    return await _start_session(request, response, services, await _fresh(services, user.id))


@router.post("/auths/signin/mfa")
async def signin_second_step(
    form: SecondStepForm, request: Request, response: Response, services: ServicesDep
) -> dict[str, Any]:
    user, method, limits = await services.mfa.finish(
        form.mfa_token, form.code, client_ip(request), request.scope
    )
    response.headers.update(limits.headers())
    return await _start_session(request, response, services, user, method=method)


@router.post("/users/{user_id}/mfa/reset")
async def reset(
    user_id: str, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, bool]:
    """Remove every factor of an account that lost them; its sessions end."""
    user = await services.users.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    await services.mfa.reset(user)
    services.events.record(
        "mfa.reset", scope=request.scope, actor=principal, target_user_id=user_id
    )
    return {"status": True}
