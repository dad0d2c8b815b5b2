"""Redis, the state workers and instances share (limits, revocations, caches): where it
is and how long a request may wait on it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.config.reader import EnvReader, SettingsError, split_url


@dataclass(frozen=True, slots=True)
class RedisSettings:
    redis_url: str | None = field(repr=False)
    redis_key_prefix: str
    redis_timeout: float  # seconds: the longest a request waits on Redis
    redis_retry_interval: float  # seconds between attempts to get Redis back


def read_redis(env: EnvReader) -> RedisSettings:
    return RedisSettings(
        redis_url=_redis_url(env),
        redis_key_prefix=env.text("REDIS_KEY_PREFIX", "bastion") or "bastion",
        redis_timeout=env.seconds("REDIS_TIMEOUT", "250ms"),
        redis_retry_interval=env.seconds("REDIS_RETRY_INTERVAL", "5s"),
    )


def _redis_url(env: EnvReader) -> str | None:
    value = env.optional("REDIS_URL")
    if value is None:
        return None
    fix = "use redis://host:6379/0, rediss:// for TLS, or unix:///path/to/socket"
    scheme = split_url("REDIS_URL", value, fix).scheme.lower()
    if scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError("REDIS_URL", f"the scheme {scheme!r} is not supported", fix)
    return value
