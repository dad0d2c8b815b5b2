"""The settings page and the administration pages.

Each page is a frame rendered here plus one ES module that reads and changes the data
through the API (the cookie plus the CSRF token); only the security overview is drawn on
the server, as SVG, so its charts need no script at all. A visitor without a valid
session goes to the sign-in page; an account that is not an administrator gets a 403
page, never the frame of an administration page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from bastion.audit.overview import RANGES, overview
from bastion.auth.authenticate import Principal
from bastion.checks import review_running
from bastion.services import Services
from bastion.web import charts
from bastion.web.templating import approved, pages_of

router = APIRouter(include_in_schema=False)

# A page, a redirect to sign in, or the 403 page.
Page = Response

# The overview's kinds, in the order shown, with their headings.
KIND_TITLES = {
    "signin_failures": "Sign-in failures",
    "lockouts": "Lockouts",
    "ratelimit_hits": "Rate-limit hits",
    "api_key_denials": "API-key denials",
    "csp_reports": "CSP reports",
}


async def _admin(request: Request) -> Principal | Page:
    principal = await approved(request)
    if isinstance(principal, Principal) and principal.user.role != "admin":
        return pages_of(request).render(
            "admin/forbidden.html", status=403, user=principal.user, page="forbidden"
        )
    return principal


@router.get("/settings")
async def settings_page(request: Request) -> Page:
    principal = await approved(request)
    if not isinstance(principal, Principal):
        return principal
    services: Services = request.app.state.services
    return pages_of(request).render(
        "settings.html",
        user=principal.user,
        page="settings",
        api_keys_enabled=services.settings.auth.enable_api_keys,
    )


@router.get("/settings/security")
async def account_security_page(request: Request) -> Page:
    """Second factors; an account the policy holds to one is sent here until it has one."""
    principal = await approved(request)
    if not isinstance(principal, Principal):
        return principal
    return pages_of(request).render("security.html", user=principal.user, page="security")


def _admin_page(template: str, page: str) -> Callable[[Request], Awaitable[Page]]:
    async def handler(request: Request) -> Page:
        principal = await _admin(request)
        if not isinstance(principal, Principal):
            return principal
        return pages_of(request).render(template, user=principal.user, page=page)

    return handler


router.add_api_route("/admin/users", _admin_page("admin/users.html", "admin-users"))
router.add_api_route("/admin/groups", _admin_page("admin/groups.html", "admin-groups"))
router.add_api_route("/admin/settings", _admin_page("admin/settings.html", "admin-settings"))
router.add_api_route("/admin/models", _admin_page("admin/models.html", "admin-models"))
router.add_api_route("/admin/audit", _admin_page("admin/audit.html", "admin-audit"))


def _bucket_label(start: datetime, seconds: int) -> str:
    return start.strftime("%H:00") if seconds < 86_400 else start.strftime("%a %d")


@router.get("/admin/security")
async def security_page(request: Request, range: str = "24h") -> Page:
    principal = await _admin(request)
    if not isinstance(principal, Principal):
        return principal
    services: Services = request.app.state.services
    settings = services.settings
    chosen = range if range in RANGES else "24h"
    context: dict[str, Any] = {
        "user": principal.user,
        "page": "admin-security",
        "range": chosen,
        "ranges": list(RANGES),
        "warnings": list(settings.warnings),
        "checks": await review_running(settings),
        "audit_enabled": settings.audit.enable_audit_logs_file,
    }
    if settings.audit.enable_audit_logs_file:
        now = datetime.now(UTC)
        found = await anyio.to_thread.run_sync(
            lambda: overview(settings.audit.audit_logs_file_path, chosen, now)
        )
        labels = [_bucket_label(start, found.bucket_seconds) for start in found.bucket_starts]
        totals = found.totals
        context["charts"] = [
            {
                "kind": kind,
                "title": title,
                "total": totals[kind],
                "svg": charts.bar_chart(
                    f"chart-{kind}", f"{title}, {chosen}", labels, found.series[kind]
                ),
            }
            for kind, title in KIND_TITLES.items()
        ]
        context["top_sources"] = charts.top_list(
            "Top source addresses", found.top_sources, empty="No refusals in this range."
        )
    return pages_of(request).render("admin/security.html", **context)
