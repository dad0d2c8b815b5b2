"""What HTTP answers carry and whom they trust: security headers, CORS, the proxies
whose forwarded headers count, Bastion's public URL and the host names it answers to."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bastion.config.reader import EnvReader, IPNetwork, SettingsError, split_url
from bastion.http.hosts import validate_host_patterns


@dataclass(frozen=True, slots=True)
class HttpSettings:
    # Security headers, raw: None = unset (the secure default applies), "" = header off.
    # They are validated, with their documented fallbacks, by bastion.http.header_values.
    hsts: str | None
    xframe_options: str | None
    content_security_policy: str | None
    content_security_policy_report_only: str | None
    permissions_policy: str | None
    referrer_policy: str | None
    cache_control: str | None
    xcontent_type: str | None
    xdownload_options: str | None
    xpermitted_cross_domain_policies: str | None
    cross_origin_opener_policy: str | None
    cross_origin_resource_policy: str | None

    cors_allow_origins: tuple[str, ...]
    forwarded_allow_ips: tuple[IPNetwork, ...] | Literal["*"]
    webui_url: str | None
    allowed_hosts: tuple[str, ...]


def read_http(env: EnvReader) -> HttpSettings:
    return HttpSettings(
        hsts=env.raw("HSTS"),
        xframe_options=env.raw("XFRAME_OPTIONS"),
        content_security_policy=env.raw("CONTENT_SECURITY_POLICY"),
        content_security_policy_report_only=env.raw("CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        permissions_policy=env.raw("PERMISSIONS_POLICY"),
        referrer_policy=env.raw("REFERRER_POLICY"),
        cache_control=env.raw("CACHE_CONTROL"),
        xcontent_type=env.raw("XCONTENT_TYPE"),
        xdownload_options=env.raw("XDOWNLOAD_OPTIONS"),
        xpermitted_cross_domain_policies=env.raw("XPERMITTED_CROSS_DOMAIN_POLICIES"),
        cross_origin_opener_policy=env.raw("CROSS_ORIGIN_OPENER_POLICY"),
        cross_origin_resource_policy=env.raw("CROSS_ORIGIN_RESOURCE_POLICY"),
        cors_allow_origins=_cors(env),
        forwarded_allow_ips=_forwarded_allow_ips(env),
        webui_url=_webui_url(env),
        allowed_hosts=_allowed_hosts(env),
    )


def validate_origin(origin: str) -> str:
    """``scheme://host[:port]`` with nothing after it; raises ValueError."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{origin!r} has more than scheme, host and port")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{origin!r} has an invalid port") from None
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" if port is None else f"[{parts.hostname}]:{port}"
    return f"{parts.scheme}://{netloc}"


def _cors(env: EnvReader) -> tuple[str, ...]:
    origins = env.csv("CORS_ALLOW_ORIGIN", sep=";")
    if origins == ("*",):
        env.warnings.append(
            "CORS_ALLOW_ORIGIN: * lets any site read responses; credentials (cookies) are "
            "never allowed with it. List your front-end origins instead."
        )
        return origins
    checked = []
    for origin in origins:
        try:
            checked.append(validate_origin(origin))
        except ValueError as exc:
            raise SettingsError(
                "CORS_ALLOW_ORIGIN",
                str(exc),
                "give ;-separated origins such as https://chat.example.com (or * alone)",
            ) from None
    return tuple(checked)


def _forwarded_allow_ips(env: EnvReader) -> tuple[IPNetwork, ...] | Literal["*"]:
    entries = (
        env.csv("FORWARDED_ALLOW_IPS")
        if env.raw("FORWARDED_ALLOW_IPS") is not None
        else ("127.0.0.1",)
    )
    if "*" in entries:
        env.warnings.append(
            "FORWARDED_ALLOW_IPS: * believes X-Forwarded-For from anyone, so any client can "
            "choose the IP that rate limits and lockouts see. List your proxy's address instead."
        )
        return "*"
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(
                "FORWARDED_ALLOW_IPS",
                f"{entry!r} is not an IP address or CIDR",
                "give comma-separated addresses or networks such as 127.0.0.1,10.0.0.0/8",
            ) from None
    return tuple(networks)


def _webui_url(env: EnvReader) -> str | None:
    value = env.optional("WEBUI_URL")
    if value is None:
        return None
    fix = "use e.g. https://chat.example.com"
    parts = split_url("WEBUI_URL", value, fix)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError("WEBUI_URL", f"{value!r} is not an http(s) URL", fix)
    return value.rstrip("/")


def _allowed_hosts(env: EnvReader) -> tuple[str, ...]:
    entries = env.csv("ALLOWED_HOSTS") if env.raw("ALLOWED_HOSTS") is not None else ("*",)
    try:
        return validate_host_patterns(entries)
    except ValueError as exc:
        raise SettingsError(
            "ALLOWED_HOSTS",
            str(exc),
            "give comma-separated host names such as chat.example.com,*.example.com (or *)",
        ) from None
