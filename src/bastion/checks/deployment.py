"""How Bastion is run: the audit log, state shared by workers and instances, the
database and data directory, requests made on users' behalf, upstreams and the docs."""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from bastion.checks.registry import Message, Target, error, register, warning
from bastion.store.db import sqlite_file


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _readable_by_others(path: Path) -> bool:
    return path.exists() and bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


@register()
def check_audit_log(target: Target) -> Iterator[Message]:
    audit = target.settings.audit
    if audit.audit_log_level == "NONE":
        yield warning(
            50,
            "AUDIT_LOG_LEVEL=NONE: requests are not recorded",
            "set AUDIT_LOG_LEVEL=metadata",
        )
    if not audit.enable_audit_logs_file:
        yield warning(
            51,
            "ENABLE_AUDIT_LOGS_FILE=false: no audit file is kept, and the hash chain that "
            "shows tampering is lost",
            "set ENABLE_AUDIT_LOGS_FILE=true",
        )
        return
    path = audit.audit_logs_file_path
    for place in (path, path.parent):
        if _readable_by_others(place):
            yield warning(
                52,
                f"the audit log {place} can be read by other users",
                f"run chmod {'600' if place == path else '700'} {place}",
            )
    if audit.audit_log_file_retention == 0:
        yield warning(
            53,
            "AUDIT_LOG_FILE_RETENTION=0: each rotation deletes the entries it rotates out",
            "set AUDIT_LOG_FILE_RETENTION to the number of rotated files to keep, such as 10",
        )


@register()
def check_workers_share_state(target: Target) -> Iterator[Message]:
    settings = target.settings
    workers = settings.server.workers
    if workers > 1 and settings.redis.redis_url is None:
        yield error(
            60,
            f"WORKERS={workers} without REDIS_URL: each worker counts rate limits and "
            f"lockouts on its own, so a limit of N lets up to {workers}*N through",
            "set REDIS_URL, or WORKERS=1",
        )
    if workers > 1 and sqlite_file(settings.server.database_url) is not None:
        yield warning(
            62,
            f"WORKERS={workers} on SQLite: writers queue for one file lock",
            "set DATABASE_URL to PostgreSQL, or WORKERS=1",
        )


@register(deploy=True)
def check_instances_share_state(target: Target) -> Iterator[Message]:
    if target.settings.redis.redis_url is None and target.settings.server.workers == 1:
        yield warning(
            61,
            "REDIS_URL is unset: limits, lockouts and revocations hold for this one process "
            "only, so a second instance would not see them",
            "set REDIS_URL before running more than one instance",
        )


@register()
def check_redis_credentials(target: Target) -> Iterator[Message]:
    url = target.settings.redis.redis_url
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme != "unix" and not parts.password and not _is_loopback(parts.hostname or ""):
        yield warning(
            63,
            f"REDIS_URL reaches {parts.hostname} without a password: anyone who can connect "
            "can clear limits, lockouts and revocations",
            "set a password in Redis (requirepass) and in REDIS_URL (rediss://:PASSWORD@host, "
            "or redis:// on a private network)",
        )


@register()
def check_data_permissions(target: Target) -> Iterator[Message]:
    server = target.settings.server
    database = sqlite_file(server.database_url)
    if database is not None and _readable_by_others(database):
        yield warning(
            64,
            f"the database {database} can be read by other users",
            f"run chmod 600 {database}",
        )
    for variable, place in (
        ("DATA_DIR", server.data_dir),
        ("UPLOAD_DIR", target.settings.files.upload_dir),
    ):
        if _readable_by_others(place):
            yield warning(
                65,
                f"{variable} {place} can be read by other users",
                f"run chmod 700 {place}",
            )


@register()
def check_web_fetch(target: Target) -> Iterator[Message]:
    outbound = target.settings.outbound
    if not outbound.enable_web_loader_ssl_verification:
        yield warning(
            70,
            "ENABLE_WEB_LOADER_SSL_VERIFICATION=false: fetched pages can be changed by "
            "anyone on the path",
            "set ENABLE_WEB_LOADER_SSL_VERIFICATION=true",
        )
    if outbound.enable_local_web_fetch:
        yield warning(
            71,
            "ENABLE_LOCAL_WEB_FETCH=true: users can make Bastion fetch private and local "
            "addresses (SSRF)",
            "set ENABLE_LOCAL_WEB_FETCH=false, or allow only the ranges needed in "
            "WEB_FETCH_FILTER_LIST",
        )


@register(deploy=True)
def check_upstreams_over_tls(target: Target) -> Iterator[Message]:
    gateway = target.settings.gateway
    for variable, urls in (
        ("OLLAMA_BASE_URLS", gateway.ollama_base_urls),
        ("OPENAI_API_BASE_URLS", gateway.openai_api_base_urls),
    ):
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
                yield warning(
                    72,
                    f"{variable} sends prompts and keys over plain http to {parts.hostname}",
                    f"use https:// in {variable}, or reach the upstream on loopback",
                )


@register(deploy=True)
def check_api_docs(target: Target) -> Iterator[Message]:
    if target.settings.server.enable_api_docs:
        yield warning(
            80,
            "ENABLE_API_DOCS=true: /docs and /openapi.json list every route to anyone",
            "set ENABLE_API_DOCS=false",
        )
