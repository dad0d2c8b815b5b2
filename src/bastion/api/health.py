"""``/health`` (the process answers) and ``/ready`` (and its database does too)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bastion.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, bool]:
    return {"status": True}


@router.get("/ready")
async def ready(services: ServicesDep) -> JSONResponse:
    if await services.db.ping():
        return JSONResponse({"status": True, "database": "ok"})
    return JSONResponse(
        {
            "status": False,
            "database": "unreachable",
            "code": "not_ready",
            "detail": "The database is unreachable.",
        },
        status_code=503,
    )
