"""open-webui's connection and retrieval settings (``/ollama/config``, ``/openai/config``,
``/api/v1/retrieval/config``) as the variables Bastion reads at start.

A posted form becomes variables, which :mod:`bastion.runtime` checks with the code that
checks them at start. Upstream keys are never answered in full: a key shows as its last
four characters behind ``****``, and a form that sends that masked form back keeps the
key stored for that URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bastion.config.reader import SettingsError
from bastion.config.runtime import as_variable, refuse_start_time_only
from bastion.config.settings import Settings

MASK = "****"
# Keys shorter than this show no characters at all: four would be too much of them.
SHOWN_FROM_LENGTH = 12


def mask_key(key: str) -> str:
    """``****wxyz`` for a key, ``""`` for no key."""
    if not key:
        return ""
    return MASK + (key[-4:] if len(key) >= SHOWN_FROM_LENGTH else "")


def ollama_config(settings: Settings) -> dict[str, Any]:
    gateway = settings.gateway
    return {
        "ENABLE_OLLAMA_API": gateway.enable_ollama_api,
        "OLLAMA_BASE_URLS": list(gateway.ollama_base_urls),
        "OLLAMA_API_CONFIGS": {},
    }


def openai_config(settings: Settings) -> dict[str, Any]:
    gateway = settings.gateway
    return {
        "ENABLE_OPENAI_API": gateway.enable_openai_api,
        "OPENAI_API_BASE_URLS": list(gateway.openai_api_base_urls),
        "OPENAI_API_KEYS": [mask_key(key) for key in gateway.openai_api_keys],
        "OPENAI_API_CONFIGS": {},
    }


def retrieval_config(settings: Settings) -> dict[str, Any]:
    outbound = settings.outbound
    return {
        "FILE_MAX_SIZE": settings.files.file_max_size // (1024 * 1024),
        "FILE_MAX_COUNT": None,
        "web": {
            "ENABLE_WEB_LOADER_SSL_VERIFICATION": outbound.enable_web_loader_ssl_verification,
            "ENABLE_LOCAL_WEB_FETCH": outbound.enable_local_web_fetch,
            "WEB_FETCH_FILTER_LIST": list(outbound.web_fetch_filter_list),
        },
    }


def ollama_variables(form: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The variables a posted Ollama config sets, and the keys Bastion does not keep."""
    refuse_start_time_only(form)
    variables: dict[str, str] = {}
    if form.get("ENABLE_OLLAMA_API") is not None:
        variables["ENABLE_OLLAMA_API"] = _flag(form, "ENABLE_OLLAMA_API")
    if "OLLAMA_BASE_URLS" in form:
        variables["OLLAMA_BASE_URLS"] = ";".join(_texts(form, "OLLAMA_BASE_URLS"))
    ignored = _configs(form, "OLLAMA_API_CONFIGS")
    known = {"ENABLE_OLLAMA_API", "OLLAMA_BASE_URLS", "OLLAMA_API_CONFIGS"}
    return variables, sorted(ignored + [key for key in form if key not in known])


def openai_variables(
    form: Mapping[str, Any], settings: Settings
) -> tuple[dict[str, str], list[str]]:
    """As :func:`ollama_variables`; a masked key (or no keys at all) keeps each URL's key."""
    refuse_start_time_only(form)
    gateway = settings.gateway
    variables: dict[str, str] = {}
    if form.get("ENABLE_OPENAI_API") is not None:
        variables["ENABLE_OPENAI_API"] = _flag(form, "ENABLE_OPENAI_API")
    if "OPENAI_API_BASE_URLS" in form or "OPENAI_API_KEYS" in form:
        urls = (
            _texts(form, "OPENAI_API_BASE_URLS")
            if "OPENAI_API_BASE_URLS" in form
            else list(gateway.openai_api_base_urls)
        )
        sent = _texts(form, "OPENAI_API_KEYS") if "OPENAI_API_KEYS" in form else None
        stored = dict(zip(gateway.openai_api_base_urls, gateway.openai_api_keys, strict=True))
        keys = _keys(urls, sent, stored, gateway.openai_api_keys)
        variables["OPENAI_API_BASE_URLS"] = ";".join(urls)
        variables["OPENAI_API_KEYS"] = ";".join(keys)
    ignored = _configs(form, "OPENAI_API_CONFIGS")
    known = {"ENABLE_OPENAI_API", "OPENAI_API_BASE_URLS", "OPENAI_API_KEYS", "OPENAI_API_CONFIGS"}
    return variables, sorted(ignored + [key for key in form if key not in known])


def retrieval_variables(form: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The variables a posted retrieval config sets (``FILE_MAX_SIZE`` in MB, as
    open-webui), and the keys Bastion does not keep (``web.…`` for those under ``web``)."""
    refuse_start_time_only(form)
    variables: dict[str, str] = {}
    ignored: list[str] = []
    for key, value in form.items():
        if key == "FILE_MAX_SIZE":
            if value is not None:
                variables[key] = _whole_number(key, value)
        elif key == "web":
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise SettingsError("web", "is not an object", "send the web settings as an object")
            refuse_start_time_only(value)
            for name, setting in value.items():
                if name == "WEB_FETCH_FILTER_LIST" and setting is not None:
                    variables[name] = ",".join(_texts(value, name, ","))
                elif name in {"ENABLE_WEB_LOADER_SSL_VERIFICATION", "ENABLE_LOCAL_WEB_FETCH"}:
                    if setting is not None:
                        variables[name] = _flag(value, name)
                else:
                    ignored.append(f"web.{name}")
        else:
            ignored.append(key)
    return variables, sorted(ignored)


def _keys(
    urls: Sequence[str],
    sent: Sequence[str] | None,
    stored: Mapping[str, str],
    stored_by_position: Sequence[str],
) -> list[str]:
    """One key per URL: the key sent, or for a masked key the stored one it stands for."""
    if sent is None:  # no keys sent: each URL keeps its own
        return [stored.get(url.rstrip("/"), "") for url in urls]
    keys: list[str] = []
    for position, key in enumerate(sent):
        if not key.startswith(MASK):
            keys.append(key)
            continue
        url = urls[position].rstrip("/") if position < len(urls) else None
        candidates = [stored.get(url, "") if url is not None else ""]
        if position < len(stored_by_position):
            candidates.append(stored_by_position[position])
        kept = next((old for old in candidates if old and mask_key(old) == key), None)
        if kept is None:
            raise SettingsError(
                "OPENAI_API_KEYS",
                f"the masked key at position {position + 1} stands for no key stored for its URL",
                "send the key itself, or the masked form that GET /openai/config shows for it",
            )
        keys.append(kept)
    return keys


def _configs(form: Mapping[str, Any], name: str) -> list[str]:
    """open-webui's per-connection options: Bastion has none, but a connection switched
    off there must not stay on here unnoticed."""
    configs = form.get(name)
    if not configs:
        return []
    if not isinstance(configs, Mapping):
        raise SettingsError(name, "is not an object", "send an object, or leave it out")
    for position, config in configs.items():
        if isinstance(config, Mapping) and config.get("enable", True) is False:
            raise SettingsError(
                name,
                f"connection {position} is switched off, which Bastion cannot do for one URL",
                "remove its URL from the list instead",
            )
    return [name]


def _flag(form: Mapping[str, Any], name: str) -> str:
    value = form[name]
    if not isinstance(value, bool):
        raise SettingsError(name, f"{value!r} is not true or false", "send true or false")
    return as_variable(value)


def _texts(form: Mapping[str, Any], name: str, separator: str = ";") -> list[str]:
    """A list of strings, none holding the separator the variable joins them with."""
    value = form[name]
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(name, "is not a list of strings", "send a JSON list of strings")
    if len(value) > 100 or any(len(item) > 4096 for item in value):
        raise SettingsError(name, "is longer than allowed", "send at most 100 entries")
    if any(separator in item for item in value):
        raise SettingsError(name, f"an entry holds {separator!r}", "send one value an entry")
    return [item.strip() for item in value]


def _whole_number(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(name, f"{value!r} is not a whole number", "send a number of MB")
    return str(value)
