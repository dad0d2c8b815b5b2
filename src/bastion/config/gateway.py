"""The model gateway: which Ollama and OpenAI-compatible upstreams it forwards to, with
which keys, and how long it waits for them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.config.reader import EnvReader, SettingsError, split_url


@dataclass(frozen=True, slots=True)
class GatewaySettings:
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


def read_gateway(env: EnvReader) -> GatewaySettings:
    openai_urls = _upstream_urls(env, "OPENAI_API_BASE_URLS")
    return GatewaySettings(
        ollama_base_urls=_upstream_urls(env, "OLLAMA_BASE_URLS"),
        openai_api_base_urls=openai_urls,
        openai_api_keys=_openai_keys(env, len(openai_urls)),
        enable_ollama_api=env.flag("ENABLE_OLLAMA_API", True),
        enable_openai_api=env.flag("ENABLE_OPENAI_API", True),
        bypass_model_access_control=env.flag("BYPASS_MODEL_ACCESS_CONTROL", False),
        model_list_cache_ttl=env.seconds("MODEL_LIST_CACHE_TTL", "10s"),
        upstream_connect_timeout=env.seconds("MODEL_UPSTREAM_CONNECT_TIMEOUT", "10s"),
        upstream_read_timeout=env.seconds("MODEL_UPSTREAM_READ_TIMEOUT", "5m"),
        upstream_max_response_size=env.size("MODEL_UPSTREAM_MAX_RESPONSE_SIZE", "16MiB"),
    )


def _upstream_urls(env: EnvReader, name: str) -> tuple[str, ...]:
    """``;``-separated http(s) base URLs; positions matter (keys are index-aligned)."""
    value = env.optional(name)
    if value is None:
        return ()
    urls: list[str] = []
    for entry in (part.strip() for part in value.split(";")):
        fix = "give ;-separated base URLs such as http://ollama:11434;https://api.example.com/v1"
        parts = split_url(name, entry, fix)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise SettingsError(name, f"{entry!r} is not an http(s) URL", fix)
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
        _check_as_outbound(name, entry)
        urls.append(entry.rstrip("/"))
    return tuple(urls)


def _check_as_outbound(name: str, url: str) -> None:
    """The outbound client's own parse: a URL it would refuse to connect to stops the
    start (or a change at run time) instead of failing every request."""
    from bastion.outbound.policy import UrlNotAllowed, parse_target

    try:
        parse_target(url)
    except UrlNotAllowed as refused:
        raise SettingsError(
            name, f"{url!r}: {refused.detail.rstrip('.')}", "give a plain http(s) URL"
        ) from None


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
    for position, key in enumerate(keys, start=1):
        # A key travels in the Authorization header: visible ASCII only, or it would
        # split the header (or the ;-list it is stored in).
        if any(not 0x21 <= ord(char) <= 0x7E or char == ";" for char in key):
            raise SettingsError(
                "OPENAI_API_KEYS",
                f"the key at position {position} holds a character no key has",
                "give each key as issued, ;-separated",
            )
    return tuple(keys + [""] * (url_count - len(keys)))
