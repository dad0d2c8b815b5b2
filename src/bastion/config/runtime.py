"""The settings an administrator may change while Bastion runs (open-webui's admin
config), and how a change is read: as the same variables, by the same code as at start.

Everything else (the secret key, the database, Redis, the listeners) is read at start
only: changing it under running requests could not be made safe, and the API says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bastion.config.reader import SettingsError
from bastion.config.settings import Settings, load_settings

# open-webui's admin-config key -> the variable it sets. open-webui's API-key keys are
# singular (ENABLE_API_KEY); its variables, and Bastion's, are ENABLE_API_KEYS.
RUNTIME_KEYS: dict[str, str] = {
    "ENABLE_SIGNUP": "ENABLE_SIGNUP",
    "DEFAULT_USER_ROLE": "DEFAULT_USER_ROLE",
    "JWT_EXPIRES_IN": "JWT_EXPIRES_IN",
    "ENABLE_API_KEY": "ENABLE_API_KEYS",
    "ENABLE_API_KEY_ENDPOINT_RESTRICTIONS": "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS",
    "API_KEY_ALLOWED_ENDPOINTS": "API_KEYS_ALLOWED_ENDPOINTS",
    "SHOW_ADMIN_DETAILS": "SHOW_ADMIN_DETAILS",
    "ENABLE_PASSWORD_VALIDATION": "ENABLE_PASSWORD_VALIDATION",
    "PASSWORD_VALIDATION_REGEX_PATTERN": "PASSWORD_VALIDATION_REGEX_PATTERN",
    "PASSWORD_VALIDATION_HINT": "PASSWORD_VALIDATION_HINT",
}
# Variables changed through open-webui's connection and retrieval routes
# (bastion.config.connections), besides those of the admin config.
CONNECTION_VARIABLES = frozenset(
    {
        "ENABLE_OLLAMA_API",
        "OLLAMA_BASE_URLS",
        "ENABLE_OPENAI_API",
        "OPENAI_API_BASE_URLS",
        "OPENAI_API_KEYS",
    }
)
RETRIEVAL_VARIABLES = frozenset(
    {
        "FILE_MAX_SIZE",
        "ENABLE_WEB_LOADER_SSL_VERIFICATION",
        "ENABLE_LOCAL_WEB_FETCH",
        "WEB_FETCH_FILTER_LIST",
    }
)
RUNTIME_VARIABLES = frozenset(RUNTIME_KEYS.values()) | CONNECTION_VARIABLES | RETRIEVAL_VARIABLES
# Named in answers so that a script learns why its change did not apply.
START_TIME_ONLY = (
    "WEBUI_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "DATA_DIR",
    "WEBUI_URL",
    "FORWARDED_ALLOW_IPS",
    "CORS_ALLOW_ORIGIN",
)


class StartTimeOnly(SettingsError):
    code = "start_time_only"

    def __init__(self, key: str) -> None:
        super().__init__(key, "is read at start only", "change it in the environment and restart")


def refuse_start_time_only(form: Mapping[str, Any]) -> None:
    """Raises :class:`StartTimeOnly` for the first key of ``form`` read at start only."""
    for key in form:
        if key in START_TIME_ONLY:
            raise StartTimeOnly(key)


def as_variable(value: Any) -> str:
    """A JSON value as the variable's text: true/false, a comma list, or the string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if value is None:
        return ""
    return str(value)


def variables_of(form: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The variables a posted admin config sets, and the keys Bastion does not keep.

    Raises :class:`StartTimeOnly` for a key that may not change at run time.
    """
    values: dict[str, str] = {}
    ignored: list[str] = []
    refuse_start_time_only(form)
    for key, value in form.items():
        variable = RUNTIME_KEYS.get(key)
        if variable is None:
            ignored.append(key)
        elif isinstance(value, dict) or (
            isinstance(value, list)
            and any(item is None or isinstance(item, dict | list) for item in value)
        ):
            raise SettingsError(
                variable,
                "an object, or a list of more than strings, is no value for it",
                "send a string, a number, true or false, or a list of strings",
            )
        else:
            values[variable] = as_variable(value)
    return values, sorted(ignored)


def with_changes(settings: Settings, variables: Mapping[str, str]) -> Settings:
    """``settings`` read again with ``variables`` over the environment they came from.

    Raises :class:`SettingsError` (its one-line message) for a value the start would
    refuse; the server section (listeners, workers) stays as it is.
    """
    unknown = set(variables) - RUNTIME_VARIABLES
    if unknown:
        raise StartTimeOnly(sorted(unknown)[0])
    changed = load_settings({**settings.environ, **variables})
    return replace(changed, server=settings.server, environ={**settings.environ, **variables})


def admin_config(settings: Settings) -> dict[str, Any]:
    """open-webui's admin-config answer for the settings Bastion changes at run time."""
    auth = settings.auth
    expires = settings.environ.get("JWT_EXPIRES_IN", "7d")
    pattern = auth.password_validation_regex
    return {
        "ENABLE_SIGNUP": auth.enable_signup,
        "DEFAULT_USER_ROLE": auth.default_user_role,
        "JWT_EXPIRES_IN": expires if auth.jwt_expires_in is not None else "-1",
        "ENABLE_API_KEY": auth.enable_api_keys,
        "ENABLE_API_KEY_ENDPOINT_RESTRICTIONS": auth.enable_api_keys_endpoint_restrictions,
        "API_KEY_ALLOWED_ENDPOINTS": ",".join(auth.api_keys_allowed_endpoints),
        "SHOW_ADMIN_DETAILS": auth.show_admin_details,
        "ENABLE_PASSWORD_VALIDATION": auth.enable_password_validation,
        "PASSWORD_VALIDATION_REGEX_PATTERN": "" if pattern is None else pattern.pattern,
        "PASSWORD_VALIDATION_HINT": auth.password_validation_hint,
        "START_TIME_ONLY": list(START_TIME_ONLY),
    }
