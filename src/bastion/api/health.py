"""``/health`` (the process answers) and ``/ready`` (and its database does too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bastion.api.deps import ServicesDep
from bastion.errors import BastionError

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, bool]:
    return {"status": True}


class NotReady(BastionError):
    status_code = 503
    code = "not_ready"
    detail = "The database is unreachable."

    def body(self) -> dict[str, Any]:
        # A load balancer's probe reads status; people read detail.
        return {"status": False, "database": "unreachable", **super().body()}


@router.get("/ready")
async def ready(services: ServicesDep) -> dict[str, Any]:
    if await services.db.ping():
        return {"status": True, "database": "ok"}
    raise NotReady
