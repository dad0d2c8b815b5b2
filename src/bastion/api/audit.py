"""``/api/v1/audit/events`` (admins read the audit log), the security overview and the CSP
report endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response

from bastion.api.deps import AdminUser, ServicesDep, client_ip
from bastion.audit import csp
from bastion.audit.overview import overview
from bastion.audit.query import Filter, search_off_loop
from bastion.checks import review_running
from bastion.errors import BastionError, NotFound, PayloadTooLarge, UnsupportedMediaType

router = APIRouter(tags=["audit"])


class InvalidReport(BastionError):
    code = "invalid_csp_report"
    detail = "The body is not a CSP violation report."


@router.get("/api/v1/audit/events")
async def audit_events(
    principal: AdminUser,
    services: ServicesDep,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: Annotated[str | None, Query(max_length=100)] = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$")] = None,
) -> dict[str, Any]:
    settings = services.settings
    if not settings.audit.enable_audit_logs_file:
        raise NotFound("The audit log file is disabled (ENABLE_AUDIT_LOGS_FILE=false).")
    where = Filter(since=since, until=until, user_id=user_id, type=type)
    found, next_cursor = await search_off_loop(
        settings.audit.audit_logs_file_path, where, limit=limit, cursor=cursor
    )
    return {"events": found, "next_cursor": next_cursor}


@router.get("/api/v1/security/overview")
async def security_overview(
    principal: AdminUser,
    services: ServicesDep,
    range: Literal["24h", "7d"] = "24h",
) -> dict[str, Any]:
    settings = services.settings
    if not settings.audit.enable_audit_logs_file:
        raise NotFound("The audit log file is disabled (ENABLE_AUDIT_LOGS_FILE=false).")
    now = datetime.now(UTC)
    found = await anyio.to_thread.run_sync(
        lambda: overview(settings.audit.audit_logs_file_path, range, now)
    )
    checks = [message.as_dict() for message in await review_running(settings)]
    return {**found.as_json(), "warnings": list(settings.warnings), "checks": checks}


@router.post("/api/v1/security/csp-report", status_code=204)
async def csp_report(request: Request, services: ServicesDep) -> Response:
    # Anyone can post a report: a per-address limit, or one client fills the audit log.
    await services.limiter.hit(
        "csp_report",
        [(services.settings.ratelimit.csp_report_rate_limit, f"csp_report:{client_ip(request)}")],
        scope=request.scope,
    )
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in csp.CONTENT_TYPES:
        raise UnsupportedMediaType("Send application/csp-report or application/reports+json.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > csp.MAX_BODY:
            raise PayloadTooLarge(f"A CSP report is limited to {csp.MAX_BODY} bytes.")
    try:
        reports = csp.parse_reports(bytes(body))
    except ValueError:
        raise InvalidReport from None
    for report in reports:
        services.events.record("csp.report", outcome="info", scope=request.scope, **report)
    return Response(status_code=204)
