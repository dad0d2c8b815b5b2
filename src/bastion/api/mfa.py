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
from bastion.api.deps import AdminUser, AnyRole, ServicesDep, client_ip, confirm_password, hit_limit
from bastion.api.forms import Password
from bastion.auth.signin import InvalidSecondFactor
from bastion.errors import Forbidden, NotFound
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


ChallengeToken = Annotated[str, StringConstraints(min_length=1, max_length=128)]
PasskeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PasskeyRegistration(BaseModel):
    challenge_token: ChallengeToken
    name: PasskeyName
    credential: dict[str, Any]  # the browser's PublicKeyCredential.toJSON()


class PasskeyOptionsForm(BaseModel):
    mfa_token: MfaToken | None = None  # absent: a sign-in with the passkey alone


class PasskeySignin(BaseModel):
    mfa_token: MfaToken | None = None
    challenge_token: ChallengeToken
    credential: dict[str, Any]


class PasskeyLoginDisabled(Forbidden):
    code = "passkey_login_disabled"
    detail = "Signing in with a passkey alone is not enabled on this server."


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
    await confirm_password(services, request, response, user, form.password)
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


@router.post("/auths/mfa/webauthn/register/options")
async def passkey_options(principal: AnyRole, services: ServicesDep) -> dict[str, Any]:
    return await services.mfa.passkeys.registration_options(
        principal.user, services.settings.http.webui_url
    )


@router.post("/auths/mfa/webauthn/register/verify")
async def passkey_register(
    form: PasskeyRegistration,
    request: Request,
    response: Response,
    principal: AnyRole,
    services: ServicesDep,
) -> dict[str, Any]:
    user = principal.user
    passkey = await services.mfa.passkeys.register(
        user,
        form.challenge_token,
        form.name,
        form.credential,
        services.settings.http.webui_url,
        request.scope,
    )
    await services.users.revoke_all_tokens(user.id)
    session = await _start_session(request, response, services, await _fresh(services, user.id))
    return {**session, "passkey": passkey.public()}


@router.get("/auths/mfa/webauthn/credentials")
async def passkey_list(principal: AnyRole, services: ServicesDep) -> list[dict[str, object]]:
    return [passkey.public() for passkey in await services.mfa.passkeys.list(principal.user.id)]


@router.delete("/auths/mfa/webauthn/credentials/{passkey_id}")
async def passkey_remove(
    passkey_id: str,
    request: Request,
    response: Response,
    principal: AnyRole,
    services: ServicesDep,
) -> dict[str, Any]:
    user = principal.user
    await services.mfa.passkeys.remove(user, passkey_id, request.scope)
    await services.users.revoke_all_tokens(user.id)
    return await _start_session(request, response, services, await _fresh(services, user.id))


@router.post("/auths/signin/webauthn/options")
async def signin_passkey_options(
    form: PasskeyOptionsForm, request: Request, response: Response, services: ServicesDep
) -> dict[str, Any]:
    webui_url = services.settings.http.webui_url
    if form.mfa_token is None:
        # Each request stores a challenge: bounded per address like sign-in attempts.
        await _passwordless_allowed(request, response, services)
        return await services.mfa.passkeys.authentication_options(None, webui_url)
    user = await services.mfa.pending_user(form.mfa_token)
    return await services.mfa.passkeys.authentication_options(user.id, webui_url)


async def _passwordless_allowed(request: Request, response: Response, services: Services) -> None:
    """A sign-in with a passkey alone: on only with ENABLE_PASSKEY_LOGIN, and counted per
    address against SIGNIN_RATE_LIMIT_IP like a password attempt."""
    if not services.settings.mfa.enable_passkey_login:
        raise PasskeyLoginDisabled
    limit = services.settings.ratelimit.signin_rate_limit_ip
    await hit_limit(
        services, request, response, "signin", [(limit, f"signin:ip:{client_ip(request)}")]
    )


@router.post("/auths/signin/webauthn")
async def signin_passkey(
    form: PasskeySignin, request: Request, response: Response, services: ServicesDep
) -> dict[str, Any]:
    """The second step with a passkey, or (ENABLE_PASSKEY_LOGIN) the whole sign-in."""
    passkeys = services.mfa.passkeys
    webui_url = services.settings.http.webui_url
    ip = client_ip(request)
    user: UserRecord | None
    if form.mfa_token is not None:
        user = await services.mfa.pending_user(form.mfa_token)
    else:
        await _passwordless_allowed(request, response, services)
        passkey = await passkeys.passkey_of(form.credential)
        known = None if passkey is None else await services.users.get(passkey.user_id)
        # Read again: the lockout's counts are not cached.
        user = None if known is None else await services.users.by_email(known.email)
        if user is None or not user.is_active:
            raise InvalidSecondFactor("The passkey could not be verified.")
    account = user

    async def check() -> bool:
        return await passkeys.verify(
            form.challenge_token, form.credential, account, webui_url, request.scope
        )

    limits = await services.signin.second_factor(user, ip, request.scope, check, "passkey")
    if form.mfa_token is not None:
        await services.mfa.spend(form.mfa_token)
    response.headers.update(limits.headers())
    return await _start_session(request, response, services, user, method="passkey")


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
