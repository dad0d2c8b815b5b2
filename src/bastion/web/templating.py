"""Rendering pages: Jinja2 with autoescaping, every answer ``no-store``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bastion import __version__
from bastion.api.deps import current_principal
from bastion.auth.authenticate import Principal
from bastion.auth.mfa import MfaEnrolmentRequired
from bastion.errors import BastionError
from bastion.web.assets import StaticAssets

TEMPLATES_DIR = Path(__file__).parent / "templates"
# A page shows private data: neither the browser's cache nor a proxy may keep it, and
# Back after sign-out must ask the server again.
NO_STORE = {"Cache-Control": "no-store"}


class Pages:
    """The templates and the static assets they link to, loaded once at start."""

    def __init__(self, assets: StaticAssets, *, app_name: str = "Bastion") -> None:
        self.assets = assets
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,  # every value is escaped unless a template says otherwise
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(static=assets.url, app_name=app_name, version=__version__)

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status, headers=NO_STORE)


def pages_of(request: Request) -> Pages:
    return request.app.state.pages  # type: ignore[no-any-return]


async def signed_in(request: Request) -> Principal | None:
    """The caller of a page, or None when the cookie is missing, invalid or revoked."""
    try:
        return await current_principal(request)
    except BastionError:
        return None


async def approved(request: Request) -> Principal | RedirectResponse:
    """The caller of a private page, or where to send them instead: the sign-in page
    without a valid cookie, the waiting page while the account is ``pending``."""
    try:
        principal: Principal | None = await current_principal(request)
    except MfaEnrolmentRequired:
        return redirect("/settings/security")  # the policy holds them there until enrolled
    except BastionError:
        principal = None
    if principal is None:
        return to_signin(request)
    if principal.user.role == "pending":
        return redirect("/pending")
    return principal


def redirect(location: str) -> RedirectResponse:
    """A relative redirect (never built from the Host a client sent), itself not stored."""
    return RedirectResponse(location, status_code=303, headers=NO_STORE)


def to_signin(request: Request) -> RedirectResponse:
    path = request.url.path
    return redirect("/auth" if path == "/" else f"/auth?next={quote(path, safe='/')}")
