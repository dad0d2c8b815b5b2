"""Settings: read from the environment once, at start, into one frozen object.

Names follow open-webui so that an existing deployment's ``.env`` carries over. A bad
value stops the start with :class:`SettingsError` (one line: the variable, the problem,
the fix); a value with a documented safe fallback is replaced and a warning is kept in
``Settings.warnings`` so that the start can print it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from bastion.auth.roles import ROLES, Role
from bastion.config.reader import (
    EnvReader,
    IPNetwork,
    RateLimit,
    SettingsError,
    parse_duration,
    parse_limit,
    parse_size,
)
from bastion.config.secret_key import fallback_keys, secret_key
from bastion.http.hosts import validate_host_patterns


class CookieSecure(StrEnum):
    TRUE = "true"
    FALSE = "false"
    AUTO = "auto"


SameSite = Literal["lax", "strict", "none"]
AuditLevelName = Literal["NONE", "METADATA", "REQUEST", "REQUEST_RESPONSE"]
AUDIT_LEVELS: tuple[AuditLevelName, ...] = ("NONE", "METADATA", "REQUEST", "REQUEST_RESPONSE")


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    secret_key: str = field(repr=False)
    secret_key_fallbacks: tuple[str, ...] = field(repr=False)
    jwt_expires_in: timedelta | None  # None: tokens without expiry (warned about)

    session_cookie_secure: CookieSecure
    auth_cookie_secure: CookieSecure
    session_cookie_same_site: SameSite
    auth_cookie_same_site: SameSite

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

    enable_signup: bool
    default_user_role: Role
    admin_email: str | None
    admin_password: str | None = field(repr=False)
    admin_name: str

    enable_api_keys: bool
    enable_api_keys_endpoint_restrictions: bool
    api_keys_allowed_endpoints: tuple[str, ...]

    enable_password_validation: bool
    password_validation_regex: re.Pattern[str] | None
    password_validation_hint: str
    password_min_length: int

    database_url: str
    max_request_body_size: int
    enable_api_docs: bool
    host: str
    port: int
    workers: int
    log_level: str

    # Audit log (AUDIT_*, MAX_BODY_LOG_SIZE, ENABLE_AUDIT_*)
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

    # Model gateway: upstreams, model access, timeouts
    ollama_base_urls: tuple[str, ...]
    openai_api_base_urls: tuple[str, ...]
    openai_api_keys: tuple[str, ...] = field(repr=False)  # index-aligned; "" = no key
    enable_ollama_api: bool
    enable_openai_api: bool
    bypass_model_access_control: bool
    model_list_cache_ttl: float  # seconds
    upstream_connect_timeout: float  # seconds
    upstream_read_timeout: float  # seconds without a byte from the upstream
    upstream_max_response_size: int  # bytes of a non-streamed answer or model list

    # Files, web fetch and the outbound client
    upload_dir: Path
    file_max_size: int  # bytes
    enable_local_web_fetch: bool
    web_fetch_filter_list: tuple[str, ...]
    enable_web_loader_ssl_verification: bool
    web_fetch_rate_limit: RateLimit
    csp_report_rate_limit: RateLimit
    outbound_connect_timeout: float  # seconds
    outbound_read_timeout: float  # seconds without a byte
    outbound_timeout: float  # seconds for the whole exchange
    outbound_max_response_size: int  # bytes

    # Rate limits, brute-force protection and Redis
    redis_url: str | None = field(repr=False)
    redis_key_prefix: str
    redis_timeout: float  # seconds: the longest a request waits on Redis
    redis_retry_interval: float  # seconds between attempts to get Redis back
    rate_limit_memory_max_keys: int
    signin_rate_limit_account_ip: RateLimit
    signin_rate_limit_ip: RateLimit
    signin_rate_limit_account: RateLimit
    signin_delay_after_failures: int
    signin_delay_base: float
    signin_delay_max: float
    signin_max_failures_account_ip: int
    signin_lockout_threshold: int
    signup_rate_limit: RateLimit
    password_change_rate_limit: RateLimit
    api_rate_limit_user: RateLimit
    api_rate_limit_key: RateLimit
    costly_rate_limit: RateLimit

    warnings: tuple[str, ...] = field(default=(), compare=False)
    # What the start says about itself (where the secret key came from), one line each.
    notices: tuple[str, ...] = field(default=(), compare=False)

    @property
    def sees_every_write(self) -> bool:
        """Whether every write to the database goes through this process.

        Then it may answer from memory what would otherwise need the database on each
        request: revocations, accounts and model access. Only one worker on the embedded
        SQLite database is alone; on PostgreSQL other instances may share the database,
        and without Redis every check must reach it.
        """
        return (
            self.redis_url is None and self.workers == 1 and self.database_url.startswith("sqlite")
        )


def _private_dir(variable: str, path: Path) -> Path:
    """Create ``path`` 0700, or tighten it to 0700: it holds secrets and users' data."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except OSError as exc:
        raise SettingsError(
            variable,
            f"{path} cannot be created ({exc.strerror})",
            f"point {variable} at a writable directory",
        ) from None
    if not os.access(path, os.W_OK):
        raise SettingsError(variable, f"{path} is not writable", "fix its owner or permissions")
    return path


def _data_dir(env: EnvReader) -> Path:
    return _private_dir("DATA_DIR", Path(env.text("DATA_DIR", "./data")).expanduser().resolve())


def _jwt_expires_in(env: EnvReader) -> timedelta | None:
    value = env.text("JWT_EXPIRES_IN", "7d")
    if value == "-1":
        env.warnings.append(
            "JWT_EXPIRES_IN: -1 issues tokens that never expire; they stay revocable, "
            "but a stolen one is valid until revoked. Prefer a duration such as 7d."
        )
        return None
    try:
        return parse_duration(value)
    except ValueError:
        raise SettingsError(
            "JWT_EXPIRES_IN",
            f"{value!r} is not a duration",
            "use a duration such as 30m, 12h, 7d, 4w or 1d12h (or -1 for no expiry)",
        ) from None


def _cookie_secure(env: EnvReader, name: str, default: str) -> CookieSecure:
    return CookieSecure(env.choice(name, default, tuple(item.value for item in CookieSecure)))


def _same_site(env: EnvReader, name: str, default: str, secure: CookieSecure) -> SameSite:
    value = env.choice(name, default, ("lax", "strict", "none"))
    if value == "none" and secure is CookieSecure.FALSE:
        raise SettingsError(
            name,
            "SameSite=None needs a Secure cookie, but the cookie is set not Secure",
            "use lax or strict, or set the matching *_COOKIE_SECURE to true or auto",
        )
    return value  # type: ignore[return-value]


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
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(
            "WEBUI_URL", f"{value!r} is not an http(s) URL", "use e.g. https://chat.example.com"
        )
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


def _api_key_endpoints(env: EnvReader) -> tuple[str, ...]:
    prefixes = []
    for entry in env.csv("API_KEYS_ALLOWED_ENDPOINTS"):
        if not entry.startswith("/") or "?" in entry or "#" in entry:
            raise SettingsError(
                "API_KEYS_ALLOWED_ENDPOINTS",
                f"{entry!r} is not an absolute path",
                "give comma-separated path prefixes such as /api/chat/completions,/api/models",
            )
        prefixes.append(entry.rstrip("/") or "/")
    return tuple(prefixes)


def _password_regex(env: EnvReader, enabled: bool) -> re.Pattern[str] | None:
    pattern = env.optional("PASSWORD_VALIDATION_REGEX_PATTERN")
    if not enabled:
        return None
    if pattern is None:
        raise SettingsError(
            "PASSWORD_VALIDATION_REGEX_PATTERN",
            "ENABLE_PASSWORD_VALIDATION is on but no pattern is set",
            "set a pattern, or turn ENABLE_PASSWORD_VALIDATION off",
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SettingsError(
            "PASSWORD_VALIDATION_REGEX_PATTERN",
            f"the pattern does not compile ({exc})",
            "fix the regular expression",
        ) from None


def _database_url(env: EnvReader, data_dir: Path) -> str:
    value = env.optional("DATABASE_URL")
    if value is None:
        return f"sqlite:///{data_dir / 'bastion.db'}"
    scheme = value.split(":", 1)[0].lower()
    if scheme.startswith("postgres") or scheme.startswith("sqlite"):
        return value
    raise SettingsError(
        "DATABASE_URL",
        f"the scheme {scheme!r} is not supported",
        "use postgresql://user:password@host/db or sqlite:///path",
    )


def _size(env: EnvReader, name: str, default: str) -> int:
    value = env.text(name, default)
    try:
        size = parse_size(value)
    except ValueError:
        raise SettingsError(name, f"{value!r} is not a size", "use e.g. 1MB or 262144") from None
    if size <= 0:
        raise SettingsError(name, "the size must be positive", "use e.g. 1MB")
    return size


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build the settings from ``environ`` (the process environment by default).

    ``overrides`` replace fields after reading, for values that come from the command
    line (``host``, ``port``, ``workers``).
    """
    env = EnvReader(os.environ if environ is None else environ)
    data_dir = _data_dir(env)

    session_secure = _cookie_secure(env, "WEBUI_SESSION_COOKIE_SECURE", "auto")
    auth_secure = _cookie_secure(env, "WEBUI_AUTH_COOKIE_SECURE", session_secure.value)
    session_same_site = _same_site(env, "WEBUI_SESSION_COOKIE_SAME_SITE", "lax", session_secure)
    auth_same_site = _same_site(env, "WEBUI_AUTH_COOKIE_SAME_SITE", session_same_site, auth_secure)

    enable_password_validation = env.flag("ENABLE_PASSWORD_VALIDATION", False)
    admin_email = env.optional("WEBUI_ADMIN_EMAIL")
    admin_password = env.raw("WEBUI_ADMIN_PASSWORD") or None
    if (admin_email is None) != (admin_password is None):
        missing = "WEBUI_ADMIN_PASSWORD" if admin_password is None else "WEBUI_ADMIN_EMAIL"
        raise SettingsError(
            missing,
            "only one of WEBUI_ADMIN_EMAIL and WEBUI_ADMIN_PASSWORD is set",
            "set both to create the first admin at start, or neither",
        )

    openai_urls = _upstream_urls(env, "OPENAI_API_BASE_URLS")
    settings = Settings(
        data_dir=data_dir,
        secret_key=secret_key(env, data_dir),
        secret_key_fallbacks=fallback_keys(env),
        jwt_expires_in=_jwt_expires_in(env),
        session_cookie_secure=session_secure,
        auth_cookie_secure=auth_secure,
        session_cookie_same_site=session_same_site,
        auth_cookie_same_site=auth_same_site,
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
        enable_signup=env.flag("ENABLE_SIGNUP", True),
        default_user_role=env.choice("DEFAULT_USER_ROLE", "pending", ROLES),  # type: ignore[arg-type]
        admin_email=admin_email,
        admin_password=admin_password,
        admin_name=env.text("WEBUI_ADMIN_NAME", "Admin") or "Admin",
        enable_api_keys=env.flag("ENABLE_API_KEYS", False),
        enable_api_keys_endpoint_restrictions=env.flag(
            "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS", False
        ),
        api_keys_allowed_endpoints=_api_key_endpoints(env),
        enable_password_validation=enable_password_validation,
        password_validation_regex=_password_regex(env, enable_password_validation),
        password_validation_hint=env.text("PASSWORD_VALIDATION_HINT", ""),
        password_min_length=env.integer("PASSWORD_MIN_LENGTH", 8, minimum=8, maximum=64),
        database_url=_database_url(env, data_dir),
        max_request_body_size=_size(env, "MAX_REQUEST_BODY_SIZE", "1MiB"),
        enable_api_docs=env.flag("ENABLE_API_DOCS", False),
        host=env.text("HOST", "127.0.0.1"),
        port=env.integer("PORT", 8080, minimum=1, maximum=65535),
        workers=env.integer("WORKERS", 1, minimum=1, maximum=64),
        log_level=env.choice(
            "GLOBAL_LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
        ),
        # Audit log
        audit_log_level=env.choice(  # type: ignore[arg-type]
            "AUDIT_LOG_LEVEL", "metadata", tuple(level.lower() for level in AUDIT_LEVELS)
        ).upper(),
        audit_logs_file_path=_audit_file_path(env, data_dir),
        audit_log_file_rotation_size=_size(env, "AUDIT_LOG_FILE_ROTATION_SIZE", "10MB"),
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
        # Model gateway
        ollama_base_urls=_upstream_urls(env, "OLLAMA_BASE_URLS"),
        openai_api_base_urls=openai_urls,
        openai_api_keys=_openai_keys(env, len(openai_urls)),
        enable_ollama_api=env.flag("ENABLE_OLLAMA_API", True),
        enable_openai_api=env.flag("ENABLE_OPENAI_API", True),
        bypass_model_access_control=env.flag("BYPASS_MODEL_ACCESS_CONTROL", False),
        model_list_cache_ttl=_seconds(env, "MODEL_LIST_CACHE_TTL", "10s"),
        upstream_connect_timeout=_seconds(env, "MODEL_UPSTREAM_CONNECT_TIMEOUT", "10s"),
        upstream_read_timeout=_seconds(env, "MODEL_UPSTREAM_READ_TIMEOUT", "5m"),
        upstream_max_response_size=_size(env, "MODEL_UPSTREAM_MAX_RESPONSE_SIZE", "16MiB"),
        # Files, web fetch and the outbound client
        upload_dir=_upload_dir(env, data_dir),
        file_max_size=env.integer("FILE_MAX_SIZE", 25, minimum=1, maximum=100_000) * 1024 * 1024,
        enable_local_web_fetch=env.flag("ENABLE_LOCAL_WEB_FETCH", False),
        web_fetch_filter_list=_web_fetch_filter_list(env),
        enable_web_loader_ssl_verification=env.flag("ENABLE_WEB_LOADER_SSL_VERIFICATION", True),
        web_fetch_rate_limit=_limit(env, "WEB_FETCH_RATE_LIMIT", "20/1m"),
        csp_report_rate_limit=_limit(env, "CSP_REPORT_RATE_LIMIT", "30/1m"),
        outbound_connect_timeout=_seconds(env, "OUTBOUND_CONNECT_TIMEOUT", "10s"),
        outbound_read_timeout=_seconds(env, "OUTBOUND_READ_TIMEOUT", "30s"),
        outbound_timeout=_seconds(env, "OUTBOUND_TIMEOUT", "60s"),
        outbound_max_response_size=_size(env, "OUTBOUND_MAX_RESPONSE_SIZE", "8MiB"),
        # Rate limits, brute-force protection and Redis
        redis_url=_redis_url(env),
        redis_key_prefix=env.text("REDIS_KEY_PREFIX", "bastion") or "bastion",
        redis_timeout=_seconds(env, "REDIS_TIMEOUT", "250ms"),
        redis_retry_interval=_seconds(env, "REDIS_RETRY_INTERVAL", "5s"),
        rate_limit_memory_max_keys=env.integer(
            "RATE_LIMIT_MEMORY_MAX_KEYS", 100_000, minimum=100, maximum=100_000_000
        ),
        signin_rate_limit_account_ip=_limit(env, "SIGNIN_RATE_LIMIT_ACCOUNT_IP", "10/15m"),
        signin_rate_limit_ip=_limit(env, "SIGNIN_RATE_LIMIT_IP", "60/15m"),
        signin_rate_limit_account=_limit(env, "SIGNIN_RATE_LIMIT_ACCOUNT", "100/15m"),
        signin_delay_after_failures=env.integer(
            "SIGNIN_DELAY_AFTER_FAILURES", 3, minimum=0, maximum=100
        ),
        signin_delay_base=_seconds(env, "SIGNIN_DELAY_BASE", "1s"),
        signin_delay_max=_seconds(env, "SIGNIN_DELAY_MAX", "15m"),
        signin_max_failures_account_ip=env.integer(
            "SIGNIN_MAX_FAILURES_ACCOUNT_IP", 20, minimum=1, maximum=100
        ),
        signin_lockout_threshold=env.integer(
            "SIGNIN_LOCKOUT_THRESHOLD", 100, minimum=1, maximum=100
        ),
        signup_rate_limit=_limit(env, "SIGNUP_RATE_LIMIT", "10/1h"),
        password_change_rate_limit=_limit(env, "PASSWORD_CHANGE_RATE_LIMIT", "5/15m"),
        api_rate_limit_user=_limit(env, "API_RATE_LIMIT_USER", "1200/1m"),
        api_rate_limit_key=_limit(env, "API_RATE_LIMIT_KEY", "600/1m"),
        costly_rate_limit=_limit(env, "COSTLY_RATE_LIMIT", "60/1m"),
        warnings=(),
    )
    # Overrides come from the command line and tests, already typed by their callers.
    fields: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    return replace(settings, warnings=tuple(env.warnings), notices=tuple(env.notices), **fields)


# Audit log


def _audit_file_path(env: EnvReader, data_dir: Path) -> Path:
    value = env.optional("AUDIT_LOGS_FILE_PATH")
    path = data_dir / "audit.log" if value is None else Path(value).expanduser().resolve()
    if path.is_dir():
        raise SettingsError(
            "AUDIT_LOGS_FILE_PATH", f"{path} is a directory", "give the path of a file"
        )
    return path


def _audit_webhook_url(env: EnvReader) -> str | None:
    """Events leave the host only over TLS; plain http only to this machine (tests)."""
    value = env.optional("AUDIT_WEBHOOK_URL")
    if value is None:
        return None
    parts = urlsplit(value)
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


# Model gateway


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


def _upstream_urls(env: EnvReader, name: str) -> tuple[str, ...]:
    """``;``-separated http(s) base URLs; positions matter (keys are index-aligned)."""
    value = env.optional(name)
    if value is None:
        return ()
    urls: list[str] = []
    for entry in (part.strip() for part in value.split(";")):
        parts = urlsplit(entry)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise SettingsError(
                name,
                f"{entry!r} is not an http(s) URL",
                "give ;-separated base URLs such as http://ollama:11434;https://api.example.com/v1",
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise SettingsError(
                name,
                f"the URL at position {len(urls) + 1} carries credentials, a query or a fragment",
                "give plain base URLs; put OpenAI keys in OPENAI_API_KEYS",
            )
        try:
            parts.port  # noqa: B018 (validates the port)
        except ValueError:
            raise SettingsError(name, f"{entry!r} has an invalid port", "fix the port") from None
        urls.append(entry.rstrip("/"))
    return tuple(urls)


def _openai_keys(env: EnvReader, url_count: int) -> tuple[str, ...]:
    value = env.raw("OPENAI_API_KEYS")
    keys = [part.strip() for part in value.split(";")] if value and value.strip() else []
    if len(keys) > url_count:
        # Never print the keys themselves: only how many there are.
        raise SettingsError(
            "OPENAI_API_KEYS",
            f"{len(keys)} keys for {url_count} URLs in OPENAI_API_BASE_URLS",
            "give one key per URL, in the same order (an empty entry for a URL without key)",
        )
    return tuple(keys + [""] * (url_count - len(keys)))


# Files, web fetch and the outbound client


def _upload_dir(env: EnvReader, data_dir: Path) -> Path:
    path = Path(env.text("UPLOAD_DIR", "") or data_dir / "uploads").expanduser().resolve()
    return _private_dir("UPLOAD_DIR", path)


# Rate limits, brute-force protection and Redis


def _limit(env: EnvReader, name: str, default: str) -> RateLimit:
    value = env.text(name, default) or default
    try:
        return parse_limit(value)
    except ValueError:
        raise SettingsError(
            name, f"{value!r} is not a rate limit", "use N/period, e.g. 5/3m or 100/1h"
        ) from None


def _seconds(env: EnvReader, name: str, default: str) -> float:
    value = env.text(name, default) or default
    try:
        return parse_duration(value).total_seconds()
    except ValueError:
        raise SettingsError(
            name, f"{value!r} is not a duration", "use a duration such as 500ms, 30s or 5m"
        ) from None


def _redis_url(env: EnvReader) -> str | None:
    value = env.optional("REDIS_URL")
    if value is None:
        return None
    scheme = urlsplit(value).scheme.lower()
    if scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(
            "REDIS_URL",
            f"the scheme {scheme!r} is not supported",
            "use redis://host:6379/0, rediss:// for TLS, or unix:///path/to/socket",
        )
    return value
