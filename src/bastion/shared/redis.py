"""The Redis storage: every multi-step change is one Lua script, one round trip.

Scripts ship as package data (``shared/lua``), are loaded once with SCRIPT LOAD and
run with EVALSHA; a Redis that forgot them (restarted, SCRIPT FLUSH) answers NOSCRIPT
and they are loaded again. Every call has a deadline: a hung Redis costs a request at
most ``timeout`` seconds, then the caller falls back (see ``failover``).

Every reply is checked before it is believed: a server that answers ``+OK`` to
everything, arrays of the wrong shape or type, or bytes that are not RESP (a
non-conforming stand-in, a proxy, another service on the port) raises
:class:`UnusableReply`, a Redis fault like a timeout, so the caller falls back instead
of failing the request or trusting a made-up count.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

from bastion.ratelimit.storage import Acquired, Window, WindowState
from bastion.ratelimit.strategies import hit_token
from bastion.shared.resp import PipelinedConnection, UnusableReply

_LUA = files("bastion.shared") / "lua"
SEEDED = "seeded"
# How long a write that every process relies on may wait (``SharedRedis.publish``): a
# sign-out waits out a slow Redis rather than leave it trusted without the revocation.
PUBLISH_TIMEOUT_S = 2.0


def _script(name: str) -> str:
    # Every script may use the shared window functions; they are sent as one text.
    return (_LUA / "window.lua").read_text() + "\n" + (_LUA / f"{name}.lua").read_text()


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """How the token check keeps a session's last activity (seconds)."""

    resolution: float  # written at most this often
    stale_after: float  # not written any more: the session is idle
    ttl: float  # kept this long


@dataclass(frozen=True, slots=True)
class TokenCheck:
    seeded: bool  # False: Redis lost its state (flushed, restarted); ask the database
    revoked: bool  # the token or its session
    version: int | None  # the account's token version, None when Redis does not know it
    last_active: float | None  # the session's, as noted; None when Redis does not know it
    write_activity: bool  # this request is the one of its minute to record the activity
    settings_version: int  # the newest run-time settings announced (0: none yet)
    acquired: Acquired  # the caller's windows
    # The route's own windows, when it has any; counted only when ``acquired`` allowed
    # the hit and the token is not revoked.
    route: Acquired | None


@dataclass(frozen=True, slots=True)
class ApiKeyCheck:
    seeded: bool  # False: Redis lost its state (flushed, restarted); ask the database
    generation: bytes  # changes whenever the key does: a copy read under another is stale
    version: int | None  # the owner's token version, None when Redis does not know it
    settings_version: int  # the newest run-time settings announced (0: none yet)
    acquired: Acquired  # the caller's windows
    route: Acquired | None  # the route's own, counted only when ``acquired`` allowed the hit


# How long a key's generation lives unused: a cached copy is read again after that.
API_KEY_GENERATION_TTL_MS = 24 * 3600 * 1000

# What redis-py's reply parsers raise on a reply of the wrong shape (``+OK`` to SCAN).
_MISSHAPEN = (ValueError, TypeError, IndexError, KeyError, AttributeError)


def _array(reply: Any, length: int) -> list[Any]:
    if not isinstance(reply, list) or len(reply) != length:
        raise UnusableReply(f"Redis answered {_kind(reply)} where {length} values were due")
    return reply


def _integer(value: Any, *, low: int = 0, high: int | None = None) -> int:
    # bool is an int subclass, but no RESP reply parses to one: refuse it all the same.
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        raise UnusableReply(f"Redis answered {_kind(value)} where an integer was due")
    return value


def _moment(value: Any) -> float:
    # The scripts send times as bulk strings (a score's text, or ``now``).
    if isinstance(value, bytes):
        try:
            moment = float(value)
        except ValueError:
            moment = math.nan
        if math.isfinite(moment):
            return moment
    raise UnusableReply(f"Redis answered {_kind(value)} where a time was due")


def _stored(reply: Any) -> None:
    # redis-py turns SET's +OK into True; anything else means nothing was stored.
    if reply is not True:
        raise UnusableReply(f"Redis answered SET with {_kind(reply)}")


def _misshapen(exc: Exception) -> UnusableReply:
    return UnusableReply(f"Redis answered a misshapen reply ({_kind(exc)})")


def _kind(value: Any) -> str:
    # The type only: a reply is never echoed (it may hold anything the server sent).
    return type(value).__name__


def _acquired(reply: Any, windows: int) -> Acquired:
    """``{allowed, count_1, oldest_1, ...}`` as sent by ``take_windows``, checked."""
    reply = _array(reply, 1 + 2 * windows)
    states = tuple(
        WindowState(_integer(reply[i]), _moment(reply[i + 1])) for i in range(1, len(reply), 2)
    )
    return Acquired(bool(_integer(reply[0], high=1)), states)


def _two_groups(
    reply: list[Any], windows: int, route_windows: int
) -> tuple[Acquired, Acquired | None]:
    """The caller's windows and, when there are any, the route's, as the checks send them."""
    split = 1 + 2 * windows
    acquired = _acquired(reply[:split], windows)
    if not route_windows:
        return acquired, None
    return acquired, _acquired(reply[split:], route_windows)


def _groups_length(windows: Sequence[Window], route_windows: Sequence[Window]) -> int:
    # Each group of windows: its verdict, then a count and an oldest time per window.
    return 1 + 2 * len(windows) + (1 + 2 * len(route_windows) if route_windows else 0)


class RedisStorage:
    def __init__(self, url: str, *, prefix: str = "bastion", timeout: float = 0.25) -> None:
        self.prefix = prefix
        self.timeout = timeout
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # No retries: the fallback is the retry, and it costs no waiting.
            retry=Retry(NoBackoff(), 0),
        )
        self._sources = {
            name: _script(name)
            for name in ("acquire", "check_token", "check_api_key", "raise_version")
        }
        self._shas: dict[str, str] = {}
        # SCRIPT LOAD must answer the script's SHA-1: anything else is not Redis.
        self._expected_shas = {
            name: hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (Redis's script id)
            for name, source in self._sources.items()
        }
        # The scripts' calls share one pipelined connection (TLS ones stay on the pool).
        self._pipe = PipelinedConnection(url) if not url.startswith("rediss:") else None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @asynccontextmanager
    async def _call(self, seconds: float | None = None) -> AsyncIterator[None]:
        """A deadline on the call; a reply redis-py could not parse is unusable, too."""
        try:
            async with asyncio.timeout(self.timeout if seconds is None else seconds):
                yield
        except _MISSHAPEN as exc:
            raise _misshapen(exc) from exc

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        # ``_call`` spelt out: this is every request's call, and the wrapper costs 2 µs.
        try:
            async with asyncio.timeout(self.timeout):
                sha = self._shas.get(name)
                if sha is not None:
                    try:
                        return await self._evalsha(sha, keys, args)
                    except NoScriptError:
                        pass
                sha = await self.client.script_load(self._sources[name])
                if sha != self._expected_shas[name]:
                    raise UnusableReply("Redis answered SCRIPT LOAD without the script's SHA-1")
                self._shas[name] = sha
                return await self._evalsha(sha, keys, args)
        except _MISSHAPEN as exc:
            raise _misshapen(exc) from exc

    async def _evalsha(self, sha: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self._pipe is None:
            return await self.client.evalsha(sha, len(keys), *keys, *args)
        return await self._pipe.call("EVALSHA", sha, len(keys), *keys, *args)

    @staticmethod
    def _window_args(windows: Sequence[Window]) -> list[Any]:
        args: list[Any] = []
        for window in windows:
            args += [window.amount, repr(window.period)]
        return args

    async def acquire(self, windows: Sequence[Window], now: float) -> Acquired:
        keys = [self.key(window.key) for window in windows]
        reply = await self._run(
            "acquire", keys, [repr(now), hit_token(), *self._window_args(windows)]
        )
        return _acquired(reply, len(windows))

    async def check_token(
        self,
        jti: str,
        sid: str,
        user_id: str,
        windows: Sequence[Window],
        now: float,
        activity: SessionActivity,
        route_windows: Sequence[Window] = (),
    ) -> TokenCheck:
        keys = [
            self.key(SEEDED),
            self.key("revoked", jti),
            self.key("revoked", sid),
            self.key("tv", user_id),
            self.key("sa", sid),
            self.key("cfgv"),
            *(self.key(window.key) for window in (*windows, *route_windows)),
        ]
        args = [
            repr(now),
            hit_token(),
            repr(activity.resolution),
            repr(activity.stale_after),
            math.ceil(activity.ttl * 1000),
            len(windows),
            *self._window_args((*windows, *route_windows)),
        ]
        reply = await self._run("check_token", keys, args)
        reply = _array(reply, 6 + _groups_length(windows, route_windows))
        acquired, route = _two_groups(reply[6:], len(windows), len(route_windows))
        version = _integer(reply[2], low=-1)
        last = None if reply[3] == b"-1" else _moment(reply[3])
        return TokenCheck(
            seeded=bool(_integer(reply[0], high=1)),
            revoked=bool(_integer(reply[1], high=1)),
            version=None if version < 0 else version,
            last_active=last,
            write_activity=bool(_integer(reply[4], high=1)),
            settings_version=_integer(reply[5], low=0),
            acquired=acquired,
            route=route,
        )

    async def check_api_key(
        self,
        key_hash: str,
        user_id: str,
        windows: Sequence[Window],
        now: float,
        route_windows: Sequence[Window] = (),
    ) -> ApiKeyCheck:
        keys = [
            self.key(SEEDED),
            self.key("akv", key_hash),
            self.key("tv", user_id),
            self.key("cfgv"),
            *(self.key(window.key) for window in (*windows, *route_windows)),
        ]
        args = [
            repr(now),
            hit_token(),
            API_KEY_GENERATION_TTL_MS,
            len(windows),
            *self._window_args((*windows, *route_windows)),
        ]
        reply = await self._run("check_api_key", keys, args)
        reply = _array(reply, 4 + _groups_length(windows, route_windows))
        acquired, route = _two_groups(reply[4:], len(windows), len(route_windows))
        generation = reply[1]
        if not isinstance(generation, bytes) or not generation:
            raise UnusableReply(f"Redis answered {_kind(generation)} where a generation was due")
        version = _integer(reply[2], low=-1)
        return ApiKeyCheck(
            seeded=bool(_integer(reply[0], high=1)),
            generation=generation,
            version=None if version < 0 else version,
            settings_version=_integer(reply[3], low=0),
            acquired=acquired,
            route=route,
        )

    async def forget_api_key(self, key_hash: str) -> None:
        """The key changed in the database: copies cached under its generation are stale."""
        await self.clear(f"akv:{key_hash}")

    async def raise_version(self, user_id: str, version: int) -> None:
        reply = await self._run("raise_version", [self.key("tv", user_id)], [version])
        _integer(reply, low=1, high=1)

    async def settings_version(self) -> int:
        """The newest runtime-settings version announced (0: none yet)."""
        async with self._call():
            reply = await self.client.get(self.key("cfgv"))
        if reply is None:
            return 0
        if not isinstance(reply, bytes) or not reply.isdigit():
            raise UnusableReply(f"Redis answered {_kind(reply)} where a version was due")
        return int(reply)

    async def raise_settings_version(self, version: int) -> None:
        """Announce ``version`` unless a newer one is announced already."""
        reply = await self._run("raise_version", [self.key("cfgv")], [version])
        _integer(reply, low=1, high=1)

    async def forget_api_keys(self) -> None:
        """Every cached API key is stale (API keys were switched or re-restricted)."""
        async with self._call(max(self.timeout, PUBLISH_TIMEOUT_S)):
            await self._unlink_matching(self.key("akv", "*"))

    async def _unlink_matching(self, *patterns: str) -> None:
        stale = [
            key for pattern in patterns async for key in self.client.scan_iter(pattern, count=1000)
        ]
        for start in range(0, len(stale), 1000):
            _integer(await self.client.unlink(*stale[start : start + 1000]))

    async def mark_revoked(self, jti: str, ttl: float | None) -> None:
        async with self._call(max(self.timeout, PUBLISH_TIMEOUT_S)):
            if ttl is None:
                _stored(await self.client.set(self.key("revoked", jti), 1))
            elif ttl > 0:
                _stored(
                    await self.client.set(self.key("revoked", jti), 1, px=math.ceil(ttl * 1000))
                )

    async def seed(self, revoked: Iterable[tuple[str, float | None]]) -> None:
        """Make Redis agree with the database, then mark it trustworthy.

        Token versions are dropped rather than copied (they are filled again from the
        database on first use): one written before an outage may be older than the
        database's. So are API keys' generations: a key changed while this instance could
        not reach Redis must not be served from another's cache. Sessions' last activity is
        dropped too (noted in the database meanwhile; read from there on next use).
        Revocations in force (tokens' and sessions') are written with their remaining
        lifetime.
        """
        async with self._call(max(self.timeout, 5.0)):
            await self._unlink_matching(
                self.key("tv", "*"), self.key("akv", "*"), self.key("sa", "*")
            )
            async with self.client.pipeline(transaction=False) as pipe:
                for jti, ttl in revoked:
                    if ttl is None:
                        pipe.set(self.key("revoked", jti), 1)
                    elif ttl > 0:
                        pipe.set(self.key("revoked", jti), 1, px=math.ceil(ttl * 1000))
                pipe.set(self.key(SEEDED), 1)
                for stored in await pipe.execute():
                    _stored(stored)

    async def ping(self) -> None:
        async with self._call():
            if await self.client.ping() is not True:
                raise UnusableReply("Redis did not answer PING with PONG")

    async def clear(self, key: str) -> None:
        async with self._call():
            _integer(await self.client.delete(self.key(key)))

    async def disconnect(self) -> None:
        """Drop every connection; the next calls connect again."""
        if self._pipe is not None:
            self._pipe.close()
        await self.client.connection_pool.disconnect()

    async def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        await self.client.aclose()
