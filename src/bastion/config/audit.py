"""The audit log: how much it records, where it writes, how it rotates, where it sends."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bastion.config.reader import EnvReader, SettingsError, file_path, split_url

AuditLevelName = Literal["NONE", "METADATA", "REQUEST", "REQUEST_RESPONSE"]
AUDIT_LEVELS: tuple[AuditLevelName, ...] = ("NONE", "METADATA", "REQUEST", "REQUEST_RESPONSE")


@dataclass(frozen=True, slots=True)
class AuditSettings:
    audit_log_level: AuditLevelName
    audit_logs_file_path: Path
    audit_log_file_rotation_size: int
    audit_log_file_retention: int
    audit_included_paths: tuple[str, ...]
    audit_excluded_paths: tuple[str, ...]
    max_body_log_size: int
    enable_audit_stdout: bool
    enable_audit_logs_file: bool
    enable_audit_get_requests: bool
    audit_webhook_url: str | None
    # A unix socket path (``/dev/log``) or a (host, port) to send UDP datagrams to.
    audit_syslog_address: str | tuple[str, int] | None


def read_audit(env: EnvReader, data_dir: Path) -> AuditSettings:
    return AuditSettings(
        audit_log_level=env.choice(  # type: ignore[arg-type]
            "AUDIT_LOG_LEVEL", "metadata", tuple(level.lower() for level in AUDIT_LEVELS)
        ).upper(),
        audit_logs_file_path=_audit_file_path(env, data_dir),
        audit_log_file_rotation_size=env.size("AUDIT_LOG_FILE_ROTATION_SIZE", "10MB"),
        audit_log_file_retention=env.integer(
            "AUDIT_LOG_FILE_RETENTION", 10, minimum=0, maximum=10_000
        ),
        audit_included_paths=env.csv("AUDIT_INCLUDED_PATHS"),
        audit_excluded_paths=env.csv("AUDIT_EXCLUDED_PATHS"),
        max_body_log_size=env.integer("MAX_BODY_LOG_SIZE", 2048, minimum=0, maximum=1024**2),
        enable_audit_stdout=env.flag("ENABLE_AUDIT_STDOUT", False),
        enable_audit_logs_file=env.flag("ENABLE_AUDIT_LOGS_FILE", True),
        enable_audit_get_requests=env.flag("ENABLE_AUDIT_GET_REQUESTS", False),
        audit_webhook_url=_audit_webhook_url(env),
        audit_syslog_address=_audit_syslog_address(env),
    )


def _audit_file_path(env: EnvReader, data_dir: Path) -> Path:
    value = env.optional("AUDIT_LOGS_FILE_PATH")
    name = "AUDIT_LOGS_FILE_PATH"
    path = data_dir / "audit.log" if value is None else file_path(name, value)
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name too long, say
        raise SettingsError(
            name, f"{path} cannot be used ({exc.strerror})", "give a shorter path"
        ) from None
    if is_dir:
        raise SettingsError(
            "AUDIT_LOGS_FILE_PATH", f"{path} is a directory", "give the path of a file"
        )
    return path


def _audit_webhook_url(env: EnvReader) -> str | None:
    """Events leave the host only over TLS; plain http only to this machine (tests)."""
    value = env.optional("AUDIT_WEBHOOK_URL")
    if value is None:
        return None
    parts = split_url("AUDIT_WEBHOOK_URL", value, "use an https:// URL")
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if (
        not host
        or parts.scheme not in {"http", "https"}
        or (parts.scheme == "http" and not loopback)
    ):
        raise SettingsError(
            "AUDIT_WEBHOOK_URL",
            f"{value!r} is not an https URL",
            "use https://… (plain http is accepted only for a loopback address)",
        )
    return value


def _audit_syslog_address(env: EnvReader) -> str | tuple[str, int] | None:
    """``/dev/log`` (a unix socket path), or ``host:port`` (``[::1]:514``) over UDP."""
    value = env.optional("AUDIT_SYSLOG_ADDRESS")
    if value is None:
        return None
    if value.startswith("/"):
        return value
    host, sep, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_text) if port_text.isascii() and port_text.isdigit() else 0
    if not sep or not host or not 0 < port < 65536:
        raise SettingsError(
            "AUDIT_SYSLOG_ADDRESS",
            f"{value!r} is neither host:port nor a socket path",
            "use host:port for UDP (127.0.0.1:514) or the path of a unix socket (/dev/log)",
        )
    return (host, port)
