"""Where the browser goes after Bastion's sign-out, and the cookie that goes with it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bastion.errors import BastionError

if TYPE_CHECKING:
    from bastion.services import Services

# open-webui's cookie holding the provider's ID token (ENABLE_OAUTH_ID_TOKEN_COOKIE).
ID_TOKEN_COOKIE = "oauth_id_token"  # noqa: S105 (a cookie name)


async def signout_redirect(services: Services, jti: str) -> str | None:
    """Where the browser goes after Bastion's sign-out: the provider's end of session
    for a single sign-on, else WEBUI_AUTH_SIGNOUT_REDIRECT_URL (None: the sign-in page)."""
    oauth = services.settings.oauth
    oidc = services.oidc
    found = None if oidc is None else await oidc.login_of(jti)
    if oidc is None or found is None:
        return oauth.webui_auth_signout_redirect_url
    _, tokens = found
    await oidc.forget(jti)
    try:
        url = await oidc.provider.end_session_url(tokens.id_token, _after_logout(services))
    except BastionError:
        # The provider is away: Bastion's own sign-out must still happen.
        url = None
    return url or oauth.webui_auth_signout_redirect_url


def _after_logout(services: Services) -> str:
    override = services.settings.oauth.webui_auth_signout_redirect_url
    if override is not None:
        return override
    base = services.settings.http.webui_url
    if base is None:
        parts = urlsplit(services.settings.oauth.openid_redirect_uri or "")
        base = f"{parts.scheme}://{parts.netloc}"
    return f"{base}/auth"
