"""``GET /api/config``: the public facts the sign-in page needs, in open-webui's shape.

Answer (nothing secret, the same for everyone)::

    {"status": true, "name": "Bastion", "version": "0.1.0", "default_locale": "en-US",
     "oauth": {"providers": {"oidc": OAUTH_PROVIDER_NAME} or {}},
     "features": {"auth": true, "auth_trusted_header": bool, "enable_ldap": false,
                  "enable_api_key": bool, "enable_signup": bool,
                  "enable_login_form": bool, "enable_websocket": false}}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bastion import __version__
from bastion.api.deps import ServicesDep

router = APIRouter(tags=["config"])


@router.get("/api/config")
async def read_config(services: ServicesDep) -> dict[str, Any]:
    await services.runtime.refresh()
    settings = services.settings
    oauth = settings.oauth
    providers = {"oidc": oauth.oauth_provider_name} if oauth.oidc_enabled else {}
    return {
        "status": True,
        "name": "Bastion",
        "version": __version__,
        "default_locale": "en-US",
        "oauth": {"providers": providers},
        "features": {
            "auth": True,
            "auth_trusted_header": oauth.webui_auth_trusted_email_header is not None,
            "enable_ldap": False,
            "enable_api_key": settings.auth.enable_api_keys,
            "enable_signup": settings.auth.enable_signup,
            "enable_login_form": oauth.enable_login_form,
            "enable_websocket": False,
        },
    }
