"""Accounts and their credentials: the signing key, tokens, cookies, sign-up, the first
admin, API keys and the password policy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from bastion.auth.permissions import Permission
from bastion.auth.roles import ROLES, Role
from bastion.config.reader import EnvReader, SettingsError, parse_duration
from bastion.config.secret_key import fallback_keys, secret_key


class CookieSecure(StrEnum):
    TRUE = "true"
    FALSE = "false"
    AUTO = "auto"


SameSite = Literal["lax", "strict", "none"]


@dataclass(frozen=True, slots=True)
class AuthSettings:
    secret_key: str = field(repr=False)
    secret_key_fallbacks: tuple[str, ...] = field(repr=False)
    secret_key_file: Path | None  # where the generated key is kept; None: WEBUI_SECRET_KEY
    jwt_expires_in: timedelta | None  # None: tokens without expiry (warned about)

    session_cookie_secure: CookieSecure
    auth_cookie_secure: CookieSecure
    session_cookie_same_site: SameSite
    auth_cookie_same_site: SameSite

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

    # What accounts in no group granting more may use (open-webui's USER_PERMISSIONS_*).
    user_permissions: frozenset[Permission]

    # Whether signed-in accounts (pending ones too) may read whom to ask for access.
    show_admin_details: bool
    admin_contact_email: str | None  # ADMIN_EMAIL; None: the primary admin's

    # A session ends this long after its last request, and this long after sign-in.
    session_idle_timeout: timedelta = timedelta(hours=24)
    session_absolute_timeout: timedelta = timedelta(days=30)


def read_auth(env: EnvReader, data_dir: Path) -> AuthSettings:
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
    key, key_file = secret_key(env, data_dir)
    return AuthSettings(
        secret_key=key,
        secret_key_fallbacks=fallback_keys(env),
        secret_key_file=key_file,
        jwt_expires_in=_jwt_expires_in(env),
        session_cookie_secure=session_secure,
        auth_cookie_secure=auth_secure,
        session_cookie_same_site=session_same_site,
        auth_cookie_same_site=auth_same_site,
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
        user_permissions=_user_permissions(env),
        # open-webui shows it by default; Bastion tells no one an admin's address unasked.
        show_admin_details=env.flag("SHOW_ADMIN_DETAILS", False),
        admin_contact_email=env.optional("ADMIN_EMAIL"),
        session_idle_timeout=_session_timeout(env, "SESSION_IDLE_TIMEOUT", "24h"),
        session_absolute_timeout=_session_timeout(env, "SESSION_ABSOLUTE_TIMEOUT", "30d"),
    )


def _session_timeout(env: EnvReader, name: str, default: str) -> timedelta:
    value = env.text(name, default)
    try:
        timeout = parse_duration(value)
    except ValueError:
        timeout = timedelta(0)
    # Under two minutes the one-minute resolution of last activity would dominate it.
    if timeout < timedelta(minutes=2):
        raise SettingsError(
            name, f"{value!r} is not a duration of 2 minutes or more", "use e.g. 30m, 24h or 30d"
        )
    return timeout


# open-webui's variables and defaults: API keys only where a group grants them.
_PERMISSION_VARIABLES: tuple[tuple[str, Permission, bool], ...] = (
    ("USER_PERMISSIONS_FEATURES_API_KEYS", "features.api_keys", False),
    ("USER_PERMISSIONS_FEATURES_WEB_FETCH", "features.web_fetch", True),
    ("USER_PERMISSIONS_CHAT_FILE_UPLOAD", "chat.file_upload", True),
    ("USER_PERMISSIONS_CHAT_SHARE", "chat.share", True),
)


def _user_permissions(env: EnvReader) -> frozenset[Permission]:
    return frozenset(
        permission
        for variable, permission, default in _PERMISSION_VARIABLES
        if env.flag(variable, default)
    )


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
