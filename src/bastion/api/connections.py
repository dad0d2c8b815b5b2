"""``/ollama/config`` and ``/openai/config``: the model upstreams an administrator changes
while Bastion runs (open-webui's routes), keys never answered in full.

A change is checked by the code that checks the variables at start (the URLs as the
outbound client parses them), audited with keys masked, and reaches every process's
gateway before its next request (:mod:`bastion.runtime`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from bastion.api.admin_config import change_settings
from bastion.api.deps import AdminUser, ServicesDep
from bastion.config.connections import (
    ollama_config,
    ollama_variables,
    openai_config,
    openai_variables,
)

router = APIRouter(tags=["connections"])


@router.get("/ollama/config")
async def get_ollama_config(_: AdminUser, services: ServicesDep) -> dict[str, Any]:
    await services.runtime.refresh()
    return ollama_config(services.settings)


@router.post("/ollama/config/update")
async def update_ollama_config(
    form: dict[str, Any], request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    read = partial(ollama_variables, form)
    return await change_settings(services, request, principal, read, ollama_config)


@router.get("/openai/config")
async def get_openai_config(_: AdminUser, services: ServicesDep) -> dict[str, Any]:
    await services.runtime.refresh()
    return openai_config(services.settings)


@router.post("/openai/config/update")
async def update_openai_config(
    form: dict[str, Any], request: Request, principal: AdminUser, services: ServicesDep
) -> dict[str, Any]:
    # The masked keys of the form stand for the keys in force: read them fresh.
    await services.runtime.refresh()
    read = partial(openai_variables, form, services.settings)
    return await change_settings(services, request, principal, read, openai_config)
