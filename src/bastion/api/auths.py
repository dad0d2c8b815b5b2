"""``/api/v1/auths``: sign-up, sign-in, sign-out, the current account, its password and
profile, and accounts an administrator adds (API keys: ``api_keys.py``; the run-time
settings: ``admin_config.py``).

Bodies and answers follow open-webui's, so its clients keep working. A route that relies
on a setting an administrator may change at run time (sign-up, token lifetime, password
rules, API keys) first asks ``services.runtime`` whether another process changed it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, EmailStr, StringConstraints, field_validator

from bastion.api.deps import (
    AdminUser,
    ServicesDep,
    VerifiedUser,
    client_ip,
    confirm_password,
    current_principal,
    hit_limit,
    principal_of,
)
from bastion.api.direct import direct
from bastion.api.forms import Name, Password, ProfileImageUrl
from bastion.auth.authenticate import COOKIE_NAME, read_credential
from bastion.auth.oidc.signout import ID_TOKEN_COOKIE, signout_redirect
from bastion.auth.roles import Role
from bastion.auth.tokens import IssuedToken
from bastion.auth.trusted_header import trusted_header_user
from bastion.config import CookieSecure
from bastion.errors import BastionError, Forbidden, NotAuthenticated
from bastion.files.data_url import profile_image
from bastion.http.csrf import CsrfTokens
from bastion.services import Services
from bastion.store.users import UserRecord

router = APIRouter(prefix="/api/v1/auths", tags=["auths"])


class SignupForm(BaseModel):
    name: Name
    email: EmailStr
    password: Password


class SigninForm(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]
    password: Password


class UpdatePasswordForm(BaseModel):
    password: Password
    new_password: Password


class UpdateProfileForm(BaseModel):
    name: Name
    # A data: URL of a raster image, checked by profile_image(); "" for none; left out,
    # the picture stays as it is.
    profile_image_url: ProfileImageUrl | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("The name is empty.")
        return name.strip()


class AddUserForm(BaseModel):
    name: Name
    email: EmailStr
    password: Password
    role: Role = "pending"
    profile_image_url: ProfileImageUrl = ""


class SignupDisabled(Forbidden):
    code = "signup_disabled"
    detail = "Sign-up is disabled on this server."


class LoginFormDisabled(Forbidden):
    code = "login_form_disabled"
    detail = "Sign-in with a password is disabled on this server; use single sign-on."


def _login_form_enabled(services: Services) -> None:
    if not services.settings.oauth.enable_login_form:
        raise LoginFormDisabled


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def set_auth_cookie(
    request: Request, response: Response, services: Services, issued: IssuedToken
) -> None:
    settings = services.settings
    secure = settings.auth.auth_cookie_secure
    is_https = request.scope.get("scheme") == "https"
    max_age = None
    if settings.auth.jwt_expires_in is not None:
        max_age = int(settings.auth.jwt_expires_in.total_seconds())
    response.set_cookie(
        COOKIE_NAME,
        issued.token,
        max_age=max_age,
        path="/",
        httponly=True,  # script never reads the session: an XSS cannot steal it
        secure=secure is CookieSecure.TRUE or (secure is CookieSecure.AUTO and is_https),
        samesite=settings.auth.auth_cookie_same_site,
    )


def _session_answer(user: UserRecord, issued: IssuedToken) -> dict[str, Any]:
    expires_at = issued.expires_at
    return {
        **user.public(),
        "token": issued.token,
        "token_type": "Bearer",
        "expires_at": None if expires_at is None else int(expires_at.timestamp()),
    }


async def _start_session(
    request: Request,
    response: Response,
    services: Services,
    user: UserRecord,
    *,
    method: str = "password",
) -> dict[str, Any]:
    # Every sign-in is a session of its own (listed, revocable): the token names it.
    sid = services.sessions.new_id()
    issued = services.tokens.issue(user.id, user.token_version, sid=sid)
    await services.sessions.start(
        sid,
        user.id,
        user.token_version,
        method=method,
        expires_at=issued.claims.expires_at,
        scope=request.scope,
    )
    set_auth_cookie(request, response, services, issued)
    # The browser sends it back as X-CSRF-Token: the cookie alone cannot change anything.
    return {**_session_answer(user, issued), "csrf_token": _csrf(request, issued.token)}


def _csrf(request: Request, auth_token: str) -> str:
    tokens: CsrfTokens = request.app.state.csrf
    return tokens.for_session(auth_token)


# First: the session check is the route every page load makes.
@direct(router, "GET", "/")
async def me(request: Request) -> dict[str, Any]:
    credential = read_credential(request.scope["headers"])
    if credential is None:
        raise NotAuthenticated
    principal = await principal_of(request, credential)
    if principal.via != "cookie":
        return principal.user.public()
    # A reloaded page gets the token of its session here (the cookie is HttpOnly).
    return {**principal.user.public(), "csrf_token": _csrf(request, credential.value)}


@router.post("/signup")
async def signup(
    form: SignupForm, request: Request, response: Response, services: ServicesDep
) -> dict[str, Any]:
    await services.runtime.refresh()
    settings = services.settings
    _login_form_enabled(services)
    if not settings.auth.enable_signup:
        raise SignupDisabled
    # Mass account creation from one address (spam, or padding the user table).
    await hit_limit(
        services,
        request,
        response,
        "signup",
        [(settings.ratelimit.signup_rate_limit, f"signup:{client_ip(request)}")],
    )
    email = _normalise_email(form.email)
    services.password_policy.check(form.password, context=(email, form.name))
    password_hash = await services.hasher.hash_async(form.password)
    user = await services.users.create(
        email=email,
        name=form.name,
        password_hash=password_hash,
        role=settings.auth.default_user_role,
        first_is_admin=True,
    )
    services.events.record("auth.signup", scope=request.scope, user_id=user.id, role=user.role)
    return await _start_session(request, response, services, user)


@router.post("/add")
async def add_user(
    form: AddUserForm, request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    """An account made by an administrator, under the same password policy as sign-up.

    open-webui answers with a token of the new account; Bastion does not: a session is
    for whoever knows the password, and that is not the administrator's to hold.
    """
    await services.runtime.refresh()
    email = _normalise_email(form.email)
    services.password_policy.check(form.password, context=(email, form.name))
    picture = profile_image(form.profile_image_url)
    user = await services.users.create(
        email=email,
        name=form.name,
        password_hash=await services.hasher.hash_async(form.password),
        role=form.role,
        first_is_admin=False,
        profile_image_url=picture,
    )
    services.events.record(
        "user.created", scope=request.scope, actor=principal, target_user_id=user.id, role=user.role
    )
    return user.public()


@router.post("/signin")
async def signin(
    form: SigninForm, request: Request, response: Response, services: ServicesDep
) -> dict[str, Any]:
    await services.runtime.refresh()
    by_header = await trusted_header_user(
        request.scope,
        services.settings.oauth,
        users=services.users,
        groups=services.groups,
        events=services.events,
        default_role=services.settings.auth.default_user_role,
    )
    if by_header is not None:
        return await _start_session(request, response, services, by_header, method="header")
    _login_form_enabled(services)
    signed_in = await services.signin.attempt(
        _normalise_email(form.email), form.password, client_ip(request), request.scope
    )
    response.headers.update(signed_in.limits.headers())
    if signed_in.second_factor_pending:
        # No session yet: the answer is the key to the second step (api/mfa.py) alone.
        return await services.mfa.challenge(signed_in.user)
    return await _start_session(request, response, services, signed_in.user)


@router.post("/signout")
async def signout(request: Request, response: Response, services: ServicesDep) -> dict[str, Any]:
    try:
        principal = await current_principal(request)
    except BastionError:
        principal = None
    redirect_url = services.settings.oauth.webui_auth_signout_redirect_url
    if principal is not None and principal.token is not None:
        claims = principal.token
        # A single sign-on also ends at the provider: the browser is sent there next.
        redirect_url = await signout_redirect(services, claims.jti)
        await services.revocations.revoke(claims.jti, claims.sub, claims.expires_at)
        await services.sessions.signed_out(claims)
        services.events.record(
            "auth.signout", scope=request.scope, user_id=claims.sub, role=principal.user.role
        )
        services.events.record(
            "auth.token_revoked",
            scope=request.scope,
            user_id=claims.sub,
            jti=claims.jti,
            reason="signout",
        )
    response.delete_cookie(COOKIE_NAME, path="/")
    response.delete_cookie(ID_TOKEN_COOKIE, path="/")
    # The browser also drops what the pages cached or stored, so Back shows nothing.
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    if redirect_url is None:
        return {"status": True}
    return {"status": True, "redirect_url": redirect_url}


@router.post("/update/password")
async def update_password(
    form: UpdatePasswordForm,
    request: Request,
    response: Response,
    principal: VerifiedUser,
    services: ServicesDep,
) -> dict[str, Any]:
    user = principal.user
    await confirm_password(services, request, response, user, form.password)
    await services.runtime.refresh()
    services.password_policy.check(form.new_password, context=(user.email, user.name))
    new_hash = await services.hasher.hash_async(form.new_password)
    # Every token issued so far ends here, this one included; the caller gets a new one.
    await services.users.set_password_hash(user.id, new_hash, revoke=True)
    services.events.record("auth.password_change", scope=request.scope, user_id=user.id)
    services.events.record(
        "auth.token_revoked",
        scope=request.scope,
        user_id=user.id,
        reason="password_change",
        all_tokens=True,
    )
    refreshed = await services.users.get(user.id)
    assert refreshed is not None
    return await _start_session(request, response, services, refreshed)


@router.post("/update/profile")
async def update_profile(
    form: UpdateProfileForm, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    picture = principal.user.profile_image_url
    if form.profile_image_url is not None:
        picture = profile_image(form.profile_image_url)
    await services.users.set_profile(principal.user.id, name=form.name, profile_image_url=picture)
    services.events.record(
        "user.profile_change",
        scope=request.scope,
        actor=principal,
        name=form.name,
        picture=bool(picture),
    )
    updated = await services.users.get(principal.user.id)
    assert updated is not None
    return updated.public()
