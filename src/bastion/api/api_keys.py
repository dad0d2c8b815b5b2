"""``/api/v1/auths/api_key``: a person's own ``sk-`` keys, made and revoked from a session.

A key is shown once, when made; the list never holds a secret. open-webui answers one key
per account; Bastion keeps several, each with a name, an expiry and path scopes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from bastion.api.deps import ServicesDep, VerifiedUser, require_permission
from bastion.api.forms import Name
from bastion.auth.authenticate import ApiKeysDisabled
from bastion.errors import BastionError, Forbidden
from bastion.jsondata import StoredText
from bastion.services import Services

router = APIRouter(prefix="/api/v1/auths", tags=["auths"])


class ApiKeyForm(BaseModel):
    name: Name = "API key"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    scopes: list[Annotated[StoredText, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=32
    )


class ApiKeyNeedsSession(Forbidden):
    code = "api_key_cannot_manage_keys"
    detail = "API keys are managed from a signed-in session, not with an API key."


def _require_session(principal: VerifiedUser, services: Services) -> None:
    if not services.settings.auth.enable_api_keys:
        raise ApiKeysDisabled
    if principal.via == "api_key":
        raise ApiKeyNeedsSession


@router.post("/api_key")
async def create_api_key(
    form: ApiKeyForm, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, Any]:
    await services.runtime.refresh()
    _require_session(principal, services)
    await require_permission(services, request, principal, "features.api_keys")
    try:
        record, key = await services.api_keys.create(
            principal.user.id,
            name=form.name,
            expires_in=None
            if form.expires_in_days is None
            else timedelta(days=form.expires_in_days),
            scopes=form.scopes,
        )
    except ValueError as exc:
        raise BastionError(str(exc), code="invalid_scope", status_code=422) from None
    services.events.record(
        "api_key.created",
        scope=request.scope,
        user_id=principal.user.id,
        api_key_id=record.id,
        name=record.name,
        scopes=list(record.scopes),
    )
    # The only time the key is ever shown; "api_key" is where open-webui's clients read it.
    return {**record.public(), "key": key, "api_key": key}


@router.get("/api_key")
async def list_api_keys(principal: VerifiedUser, services: ServicesDep) -> list[dict[str, Any]]:
    _require_session(principal, services)
    return [record.public() for record in await services.api_keys.list(principal.user.id)]


@router.delete("/api_key/{key_id}")
async def revoke_api_key(
    key_id: str, request: Request, principal: VerifiedUser, services: ServicesDep
) -> dict[str, bool]:
    _require_session(principal, services)
    await services.api_keys.revoke(principal.user.id, key_id)
    services.events.record(
        "api_key.revoked", scope=request.scope, user_id=principal.user.id, api_key_id=key_id
    )
    return {"status": True}
