"""The pages of the browser UI: sign-in and sign-up, pending, the chat and shared views
(by a share link, or granted to the reader).

Private pages redirect to ``/auth`` when the session cookie is missing or no longer
valid; an account still ``pending`` sees only the waiting page. Data comes from the API
(same origin, the cookie plus the CSRF token); the server renders only the frame and
the facts the page needs before its first request.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bastion.auth.authenticate import Principal
from bastion.services import Services
from bastion.web.templating import approved, pages_of, redirect, signed_in, to_signin

router = APIRouter(include_in_schema=False)


async def _chat(request: Request, chat_id: str | None) -> Response:
    principal = await approved(request)
    if not isinstance(principal, Principal):
        return principal
    return pages_of(request).render(
        "chat.html", user=principal.user, chat_id=chat_id or "", page="chat"
    )


@router.get("/")
async def new_chat(request: Request) -> Response:
    return await _chat(request, None)


@router.get("/c/{chat_id}")
async def open_chat(chat_id: str, request: Request) -> Response:
    return await _chat(request, chat_id)


@router.get("/s/{share_id}")
async def shared_chat(share_id: str, request: Request) -> Response:
    principal = await approved(request)
    if not isinstance(principal, Principal):
        return principal
    return pages_of(request).render(
        "shared.html", user=principal.user, share_id=share_id, chat_id="", page="shared"
    )


@router.get("/shared/{chat_id}")
async def granted_chat(chat_id: str, request: Request) -> Response:
    """A chat its owner shared with this account or one of its groups, read-only."""
    principal = await approved(request)
    if not isinstance(principal, Principal):
        return principal
    return pages_of(request).render(
        "shared.html", user=principal.user, share_id="", chat_id=chat_id, page="shared"
    )


@router.get("/auth")
async def auth_page(request: Request) -> Response:
    services: Services = request.app.state.services
    # The first visitor creates the administrator: show them the sign-up form first.
    await services.runtime.refresh()
    oauth = services.settings.oauth
    form = oauth.enable_login_form
    signup = form and services.settings.auth.enable_signup
    first = signup and await services.users.count() == 0
    return pages_of(request).render(
        "auth.html",
        user=None,
        page="auth",
        login_form=form,
        signup_enabled=signup,
        first_account=first,
        passkey_login=services.settings.mfa.enable_passkey_login,
        # Single sign-on: the button, and the reason a sign-in through it came back refused.
        sso_provider=oauth.oauth_provider_name if oauth.oidc_enabled else None,
        sso_error=request.query_params.get("error", "").startswith("oauth_"),
    )


@router.get("/pending")
async def pending_page(request: Request) -> Response:
    principal = await signed_in(request)
    if principal is None:
        return to_signin(request)
    if principal.user.role != "pending":
        return redirect("/")
    return pages_of(request).render("pending.html", user=principal.user, page="pending")
