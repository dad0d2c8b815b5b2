"""``/oauth/oidc/*``: single sign-on through the OpenID provider (open-webui's routes).

``login`` sends the browser to the provider, ``callback`` brings it back signed in,
``backchannel-logout`` is the provider telling Bastion a session there has ended. No
route takes a URL to go to afterwards: where the browser lands is fixed here, so none
can be turned into an open redirect.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from bastion.api.auths import _start_session
from bastion.api.deps import ServicesDep
from bastion.auth.oidc.provider import OidcRefused
from bastion.auth.oidc.signin import FLOW_LIFETIME, OidcSignIn
from bastion.auth.oidc.signout import ID_TOKEN_COOKIE
from bastion.config import CookieSecure
from bastion.errors import BastionError, NotFound
from bastion.services import Services

router = APIRouter(tags=["oauth"], include_in_schema=False)

# Binds a flow to the browser that began it: a callback link sent to someone else (login
# CSRF: signing a victim into the attacker's account) has the state but not the cookie.
FLOW_COOKIE = "oauth_state"
FLOW_COOKIE_PATH = "/oauth/oidc"


class OidcDisabled(NotFound):
    code = "oauth_disabled"
    detail = "Single sign-on is not configured on this server."


class BackchannelLogoutDisabled(NotFound):
    code = "oauth_backchannel_logout_disabled"
    detail = "Back-channel logout is not enabled on this server."


def _secure(request: Request, services: Services) -> bool:
    secure = services.settings.auth.auth_cookie_secure
    is_https = request.scope.get("scheme") == "https"
    return secure is CookieSecure.TRUE or (secure is CookieSecure.AUTO and is_https)


def _oidc(services: Services) -> OidcSignIn:
    if services.oidc is None:
        raise OidcDisabled
    return services.oidc


@router.get("/oauth/oidc/login")
async def login(request: Request, services: ServicesDep) -> Response:
    oidc = _oidc(services)
    try:
        started = await oidc.start()
    except BastionError as failed:  # the provider is away or its discovery is unusable
        services.events.record(
            "oauth.refused", outcome="failure", scope=request.scope, reason=failed.code
        )
        return _back_to_sign_in("oauth_provider_unavailable")
    response = RedirectResponse(started.url, status_code=302)
    response.set_cookie(
        FLOW_COOKIE,
        started.state,
        max_age=int(FLOW_LIFETIME.total_seconds()),
        path=FLOW_COOKIE_PATH,
        httponly=True,
        secure=_secure(request, services),
        samesite="lax",  # sent on the provider's top-level redirect back, and only then
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/oauth/oidc/callback")
async def callback(
    request: Request, services: ServicesDep, state: str = "", code: str = ""
) -> Response:
    oidc = _oidc(services)
    cookie = request.cookies.get(FLOW_COOKIE, "")
    try:
        if not state or not hmac.compare_digest(cookie.encode(), state.encode()):
            # The state is spent anyway: it was sent here, it is known to someone.
            if state:
                await oidc.discard(state)
            raise OidcRefused("state_not_of_this_browser")
        identified = await oidc.finish(state, code, request.scope)
    except OidcRefused as refused:
        if refused.reason == "state_not_of_this_browser":
            services.events.record(
                "oauth.refused", outcome="denied", scope=request.scope, reason=refused.reason
            )
        return _back_to_sign_in(refused.code)
    except BastionError as failed:  # the provider could not be reached or answered nonsense
        services.events.record(
            "oauth.refused", outcome="failure", scope=request.scope, reason=failed.code
        )
        return _back_to_sign_in("oauth_provider_unavailable")
    user = identified.user
    response = RedirectResponse("/pending" if user.role == "pending" else "/", status_code=302)
    answer = await _start_session(request, response, services, user, method="oidc")
    await oidc.record_login(identified, services.tokens.verify(answer["token"]))
    services.events.record(
        "oauth.login",
        scope=request.scope,
        user_id=user.id,
        role=user.role,
        issuer=identified.claims["iss"],
    )
    response.delete_cookie(FLOW_COOKIE, path=FLOW_COOKIE_PATH)
    if services.settings.oauth.enable_oauth_id_token_cookie:
        response.set_cookie(
            ID_TOKEN_COOKIE,
            identified.tokens.id_token,
            max_age=None if answer["expires_at"] is None else _max_age(services),
            path="/",
            httponly=True,
            secure=_secure(request, services),
            samesite=services.settings.auth.auth_cookie_same_site,
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _max_age(services: Services) -> int | None:
    expires_in = services.settings.auth.jwt_expires_in
    return None if expires_in is None else int(expires_in.total_seconds())


def _back_to_sign_in(code: str) -> Response:
    # A fixed local page with a fixed code: nothing the request said is echoed.
    response = RedirectResponse(f"/auth?error={code}", status_code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/oauth/oidc/backchannel-logout")
async def backchannel_logout(
    request: Request, services: ServicesDep, logout_token: Annotated[str, Form()] = ""
) -> Response:
    oidc = _oidc(services)
    if not services.settings.oauth.enable_oauth_backchannel_logout:
        raise BackchannelLogoutDisabled
    try:
        await oidc.backchannel_logout(logout_token, request.scope)
    except OidcRefused as refused:
        # OpenID Connect Back-Channel Logout 1.0, section 2.8: 400 with an OAuth error.
        return JSONResponse(
            {"error": "invalid_request", "detail": refused.detail, "code": refused.code},
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
