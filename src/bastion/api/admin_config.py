"""``/api/v1/auths/admin/…``: the settings an administrator changes while Bastion runs
(:mod:`bastion.runtime`), and whom to ask for access."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from bastion.api.deps import AdminUser, AnyRole, ServicesDep
from bastion.auth.authenticate import Principal
from bastion.config import Settings, SettingsError
from bastion.config.runtime import admin_config, variables_of
from bastion.errors import BastionError, Forbidden
from bastion.services import Services

router = APIRouter(prefix="/api/v1/auths", tags=["auths"])


@router.get("/admin/config")
async def get_admin_config(_: AdminUser, services: ServicesDep) -> dict[str, Any]:
    await services.runtime.refresh()
    return admin_config(services.settings)


@router.post("/admin/config")
async def update_admin_config(
    form: dict[str, Any], request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    """open-webui's admin config: the keys Bastion changes at run time are applied on
    every process, the rest of open-webui's keys are named under ``IGNORED``; a key read
    at start only is refused."""
    return await change_settings(
        services, request, principal, partial(variables_of, form), admin_config
    )


def refusal(refused: SettingsError) -> BastionError:
    """A refused setting as the API tells it: its one line and a stable code."""
    code = getattr(refused, "code", "invalid_setting")
    return BastionError(str(refused), code=code, status_code=422)


async def change_settings(
    services: Services,
    request: Request,
    principal: Principal,
    read: Callable[[], tuple[Mapping[str, str], list[str]]],
    shown: Callable[[Settings], dict[str, Any]],
) -> dict[str, Any]:
    """Apply the variables ``read()`` takes from a posted form on every process and
    record what changed, as ``shown`` shows it (keys masked there, so never in the audit
    log); the new settings so shown, with the form's keys Bastion does not keep under
    ``IGNORED``.

    Raises 422 ``invalid_setting`` (or ``start_time_only``), changing nothing.
    """
    try:
        variables, ignored = read()
        before, after = await services.runtime.change(variables, by=principal.user.id)
    except SettingsError as refused:
        raise refusal(refused) from None
    old, new = shown(before), shown(after)
    changed = sorted(key for key in new if key != "START_TIME_ONLY" and old[key] != new[key])
    if changed:
        services.events.record(
            "settings.changed",
            scope=request.scope,
            actor=principal,
            old={key: old[key] for key in changed},
            new={key: new[key] for key in changed},
        )
    return {**new, "IGNORED": ignored}


class AdminDetailsHidden(Forbidden):
    code = "admin_details_hidden"
    detail = "This server does not show who its administrator is (SHOW_ADMIN_DETAILS)."


@router.get("/admin/details")
async def admin_details(_: AnyRole, services: ServicesDep) -> dict[str, str | None]:
    """Whom to ask for access (open-webui's route): with ``SHOW_ADMIN_DETAILS`` only,
    ``ADMIN_EMAIL`` or else the primary admin's address."""
    await services.runtime.refresh()
    auth = services.settings.auth
    if not auth.show_admin_details:
        raise AdminDetailsHidden
    if auth.admin_contact_email is not None:
        listed = await services.users.by_email(auth.admin_contact_email.lower())
        return {"name": None if listed is None else listed.name, "email": auth.admin_contact_email}
    primary = await services.users.primary()
    if primary is None:
        return {"name": None, "email": None}
    return {"name": primary.name, "email": primary.email}
