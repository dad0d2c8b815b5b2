"""``create_app(settings)``: the one place where the order of the middleware is written."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from bastion import __version__
from bastion.api import (
    admin_config,
    api_keys,
    audit,
    auths,
    chat_grants,
    chats,
    completions,
    config,
    connections,
    files,
    folders,
    groups,
    health,
    mfa,
    models,
    oidc,
    ollama,
    retrieval,
    sessions,
    users,
)
from bastion.api.errors import install_error_handlers
from bastion.audit.middleware import AuditLevel, AuditMiddleware
from bastion.auth.authenticate import COOKIE_NAME
from bastion.config import Settings, SettingsError, load_settings
from bastion.http.body_limit import BodySizeLimitMiddleware
from bastion.http.csrf import CsrfMiddleware, CsrfTokens
from bastion.http.header_values import build_security_headers
from bastion.http.headers import SecurityHeadersMiddleware
from bastion.http.hosts import AllowedHostsMiddleware
from bastion.http.proxy import ProxyHeadersMiddleware
from bastion.http.request_target import RequestTargetMiddleware
from bastion.http.unique_headers import UniqueHeadersMiddleware
from bastion.services import Services
from bastion.web import admin, pages
from bastion.web.assets import StaticAssets
from bastion.web.templating import Pages

log = logging.getLogger("bastion")
GC_YOUNG_THRESHOLD = 10_000


async def prepare(services: Services) -> None:
    """Schema at the newest revision, revocations loaded, the headless admin created."""
    await anyio.to_thread.run_sync(services.db.migrate)
    await services.runtime.load()
    # Revocations of tokens that have expired since are dead weight: they go at each start.
    await services.revocations.prune()
    await services.revocations.load()
    await services.start()
    await ensure_admin(services)


async def ensure_admin(services: Services) -> None:
    settings = services.settings
    if settings.auth.admin_email is None or settings.auth.admin_password is None:
        return
    if await services.users.count() > 0:
        return
    admin = await services.create_admin(
        settings.auth.admin_email, settings.auth.admin_name, settings.auth.admin_password
    )
    log.info("created the administrator %s from WEBUI_ADMIN_EMAIL", admin.email)


def tune_gc_for_serving() -> None:
    """Freeze what is alive after start; collect the youngest objects less often.

    The modules, routes and services built at start are never garbage, yet every full
    collection walked them all: under load, about twenty pauses of up to 100 ms per ten
    seconds, which were the server's tail latency. Frozen, they stay alive and are no
    longer walked. The objects of the requests in flight kept crossing the default
    threshold (700) of the youngest generation, so it was collected every few requests
    (about 5 % of the time); at 10,000 it is collected rarely, for a few hundred
    kilobytes more of garbage awaiting collection at most.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def create_app(
    settings: Settings, *, services: Services | None = None, tune_gc: bool = False
) -> FastAPI:
    """``tune_gc``: tune the garbage collector after start (a served process, not tests)."""
    services = services or Services.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(services)
        if tune_gc:
            tune_gc_for_serving()
        try:
            yield
        finally:
            await services.close()

    docs = settings.server.enable_api_docs
    app = FastAPI(
        title="Bastion",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # Bastion exports no OpenTelemetry data; with it on, FastAPI looks up the
        # providers on every request (3 µs of each, in-process).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.services = services
    app.state.csrf = csrf_tokens = CsrfTokens(settings.auth.secret_key)
    install_error_handlers(app)
    # Routes are matched in this order: the hot paths (completions, the session check)
    # are found first. They go into the app's own list: an included router is matched
    # through FastAPI's per-include wrappers on every request, which was a quarter of
    # the time of ``GET /health`` (73 µs against 55 µs flat, in-process).
    for router in (
        completions.router,
        auths.router,
        mfa.router,
        oidc.router,
        admin_config.router,
        api_keys.router,
        health.router,
        sessions.router,
        users.router,
        audit.router,
        models.router,
        groups.router,
        connections.router,  # before ollama: /ollama/config is no Ollama path
        ollama.router,
        chat_grants.router,  # before chats: /api/v1/chats/shared is no chat id
        chats.router,
        folders.router,
        files.router,
        retrieval.router,
        config.router,
        pages.router,
        admin.router,
    ):
        app.router.routes.extend(router.routes)
    # The browser UI: its pages, and its static files under one versioned prefix.
    assets = StaticAssets()
    app.state.pages = Pages(assets)
    app.router.routes.append(Route("/static/{name:path}", assets, include_in_schema=False))

    headers, warnings = build_security_headers(settings)
    for warning in warnings:
        log.warning("%s", warning)

    # Added innermost first: each add_middleware wraps everything added before it.
    if settings.http.cors_allow_origins:
        wildcard = settings.http.cors_allow_origins == ("*",)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.http.cors_allow_origins),
            # Cookies never travel to a wildcard origin.
            allow_credentials=not wildcard,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    trusted_origins = [settings.http.webui_url] if settings.http.webui_url else []
    if trusted_origins:
        # Origins the admin lets call the API with credentials are trusted as much.
        trusted_origins += [o for o in settings.http.cors_allow_origins if o != "*"]
    app.add_middleware(
        CsrfMiddleware,
        tokens=csrf_tokens,
        cookie_name=COOKIE_NAME,
        trusted_origins=trusted_origins,
        login_paths=(
            "/api/v1/auths/signin",
            "/api/v1/auths/signup",
            "/api/v1/auths/signin/mfa",
            "/api/v1/auths/signin/webauthn/options",
            "/api/v1/auths/signin/webauthn",
        ),
        # Uploads are multipart; CSP reports are sent by browsers as their own types.
        # The provider's back-channel logout is a form post from its server, no session.
        other_bodies=(
            "/api/v1/files",
            "/api/v1/security/csp-report",
            "/oauth/oidc/backchannel-logout",
        ),
        sessionless_paths=("/api/v1/security/csp-report", "/oauth/oidc/backchannel-logout"),
        on_refusal=lambda scope, reason: services.events.record(
            "csrf.refused", outcome="denied", scope=scope, reason=reason
        ),
    )

    async def upload_cap() -> int:
        await services.runtime.refresh()  # FILE_MAX_SIZE changed by another process?
        return services.settings.files.file_max_size + 64 * 1024

    app.add_middleware(
        BodySizeLimitMiddleware,
        max_size=settings.server.max_request_body_size,
        # Uploads have their own cap (FILE_MAX_SIZE, also enforced while streaming, and
        # changed at run time), plus room for the multipart framing around the file.
        overrides={"/api/v1/files": upload_cap},
    )
    # Before any route takes a path segment as an id or a file name.
    app.add_middleware(RequestTargetMiddleware)
    # Before anything reads Authorization: one header, or a proxy may read another one.
    app.add_middleware(UniqueHeadersMiddleware, names=("authorization",))
    # Before any route can build a URL from the Host the client chose.
    app.add_middleware(AllowedHostsMiddleware, allowed_hosts=settings.http.allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware, headers=headers)
    # Inside the proxy layer, so the client IP is the one FORWARDED_ALLOW_IPS vouches for;
    # outside the body limit and the headers, so refusals (413) are audited with the
    # status the client really got, and the whole request's duration is measured.
    app.add_middleware(
        AuditMiddleware,
        writer=services.audit,
        level=AuditLevel[settings.audit.audit_log_level],
        included_paths=settings.audit.audit_included_paths,
        excluded_paths=settings.audit.audit_excluded_paths,
        audit_get_requests=settings.audit.enable_audit_get_requests,
        max_body_size=settings.audit.max_body_log_size,
    )
    # Outermost: every layer below sees the real client address and scheme.
    app.add_middleware(ProxyHeadersMiddleware, trusted=settings.http.forwarded_allow_ips)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn's workers call: ``uvicorn --factory bastion.app:app_from_env``."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(f"bastion: {exc}") from None
    return create_app(settings, tune_gc=True)
