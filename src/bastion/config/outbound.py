"""Requests Bastion makes on a user's behalf (web fetch): which addresses they may reach,
whether TLS is verified, and the limits of time and size that bound them."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config.reader import EnvReader, SettingsError


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    enable_local_web_fetch: bool
    web_fetch_filter_list: tuple[str, ...]
    enable_web_loader_ssl_verification: bool
    outbound_connect_timeout: float  # seconds
    outbound_read_timeout: float  # seconds without a byte
    outbound_timeout: float  # seconds for the whole exchange
    outbound_max_response_size: int  # bytes


def read_outbound(env: EnvReader) -> OutboundSettings:
    return OutboundSettings(
        enable_local_web_fetch=env.flag("ENABLE_LOCAL_WEB_FETCH", False),
        web_fetch_filter_list=_web_fetch_filter_list(env),
        enable_web_loader_ssl_verification=env.flag("ENABLE_WEB_LOADER_SSL_VERIFICATION", True),
        outbound_connect_timeout=env.seconds("OUTBOUND_CONNECT_TIMEOUT", "10s"),
        outbound_read_timeout=env.seconds("OUTBOUND_READ_TIMEOUT", "30s"),
        outbound_timeout=env.seconds("OUTBOUND_TIMEOUT", "60s"),
        outbound_max_response_size=env.size("OUTBOUND_MAX_RESPONSE_SIZE", "8MiB"),
    )


def _web_fetch_filter_list(env: EnvReader) -> tuple[str, ...]:
    """Parsed once here, so an entry that blocks nothing stops the start instead."""
    from bastion.outbound.policy import DomainFilter

    entries = env.csv("WEB_FETCH_FILTER_LIST")
    try:
        DomainFilter(entries)
    except ValueError as exc:
        raise SettingsError(
            "WEB_FETCH_FILTER_LIST",
            str(exc),
            "give comma-separated domains, IP addresses or CIDR ranges such as "
            "example.com,!evil.example,!10.0.0.0/8",
        ) from None
    return entries
