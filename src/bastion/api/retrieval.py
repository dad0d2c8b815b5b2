"""``/api/v1/retrieval``: fetch a web page as text, for verified users, rate-limited.

The URL is the user's choice, so the fetch goes through the outbound client's SSRF
policy; a refusal is recorded with the host only (a URL's query may hold secrets).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from bastion.api.admin_config import change_settings
from bastion.api.deps import AdminUser, ServicesDep, rate_limited, require_permission
from bastion.auth.authenticate import Principal
from bastion.config.connections import retrieval_config, retrieval_variables
from bastion.errors import BastionError

router = APIRouter(prefix="/api/v1/retrieval", tags=["retrieval"])

# Verified users only, WEB_FETCH_RATE_LIMIT each (per API key when called with one).
WebFetchUser = Annotated[
    Principal,
    Depends(rate_limited("web_fetch", lambda settings: settings.ratelimit.web_fetch_rate_limit)),
]


class WebForm(BaseModel):
    url: str = Field(max_length=4096)


def _host(url: str) -> str | None:
    try:
        return url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1][:255]
    except IndexError:
        return None


@router.post("/process/web")
async def process_web(
    form: WebForm, request: Request, principal: WebFetchUser, services: ServicesDep
) -> dict[str, Any]:
    await require_permission(services, request, principal, "features.web_fetch")
    await services.runtime.refresh(request.scope)  # web-fetch settings changed by another process?
    try:
        return await services.web_fetch.fetch(form.url)
    except BastionError as refused:
        services.events.record(
            "web_fetch.refused",
            outcome="denied" if refused.status_code < 500 else "failure",
            scope=request.scope,
            actor=principal,
            host=_host(form.url),
            reason=refused.code,
        )
        raise


@router.get("/config")
async def get_retrieval_config(_: AdminUser, services: ServicesDep) -> dict[str, Any]:
    """The upload size and web-fetch settings, in open-webui's shape (its other
    retrieval settings are features Bastion does not have)."""
    await services.runtime.refresh()
    return retrieval_config(services.settings)


@router.post("/config/update")
async def update_retrieval_config(
    form: dict[str, Any], request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    read = partial(retrieval_variables, form)
    return await change_settings(services, request, principal, read, retrieval_config)
