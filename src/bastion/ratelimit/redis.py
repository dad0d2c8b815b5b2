"""The Redis storage: every multi-step change is one Lua script, one round trip.

Scripts ship as package data (``ratelimit/lua``), are loaded once with SCRIPT LOAD and
run with EVALSHA; a Redis that forgot them (restarted, SCRIPT FLUSH) answers NOSCRIPT
and they are loaded again. Every call has a deadline: a hung Redis costs a request at
most ``timeout`` seconds, then the caller falls back (see ``failover``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

from bastion.ratelimit.resp import PipelinedConnection
from bastion.ratelimit.storage import Acquired, Window, WindowState
from bastion.ratelimit.strategies import hit_token

_LUA = files("bastion.ratelimit") / "lua"
SEEDED = "seeded"


def _script(name: str) -> str:
    # Every script may use the shared window functions; they are sent as one text.
    return (_LUA / "window.lua").read_text() + "\n" + (_LUA / f"{name}.lua").read_text()


@dataclass(frozen=True, slots=True)
class TokenCheck:
    seeded: bool  # False: Redis lost its state (flushed, restarted); ask the database
    revoked: bool
    version: int | None  # the account's token version, None when Redis does not know it
    acquired: Acquired


def _acquired(reply: Sequence[Any]) -> Acquired:
    states = tuple(WindowState(int(reply[i]), float(reply[i + 1])) for i in range(1, len(reply), 2))
    return Acquired(bool(reply[0]), states)


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
            name: _script(name) for name in ("acquire", "check_token", "raise_version")
        }
        self._shas: dict[str, str] = {}
        # The scripts' calls share one pipelined connection (TLS ones stay on the pool).
        self._pipe = PipelinedConnection(url) if not url.startswith("rediss:") else None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        async with asyncio.timeout(self.timeout):
            sha = self._shas.get(name)
            if sha is not None:
                try:
                    return await self._evalsha(sha, keys, args)
                except NoScriptError:
                    pass
            sha = self._shas[name] = await self.client.script_load(self._sources[name])
            return await self._evalsha(sha, keys, args)

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
        return _acquired(reply)

    async def check_token(
        self, jti: str, user_id: str, windows: Sequence[Window], now: float
    ) -> TokenCheck:
        keys = [
            self.key(SEEDED),
            self.key("revoked", jti),
            self.key("tv", user_id),
            *(self.key(window.key) for window in windows),
        ]
        reply = await self._run(
            "check_token", keys, [repr(now), hit_token(), *self._window_args(windows)]
        )
        version = int(reply[2])
        return TokenCheck(
            seeded=bool(reply[0]),
            revoked=bool(reply[1]),
            version=None if version < 0 else version,
            acquired=_acquired(reply[3:]),
        )

    async def raise_version(self, user_id: str, version: int) -> None:
        await self._run("raise_version", [self.key("tv", user_id)], [version])

    async def mark_revoked(self, jti: str, ttl: float | None) -> None:
        async with asyncio.timeout(self.timeout):
            if ttl is None:
                await self.client.set(self.key("revoked", jti), 1)
            elif ttl > 0:
                await self.client.set(self.key("revoked", jti), 1, px=math.ceil(ttl * 1000))

    async def seed(self, revoked: Iterable[tuple[str, float | None]]) -> None:
        """Make Redis agree with the database, then mark it trustworthy.

        Token versions are dropped rather than copied (they are filled again from the
        database on first use): one written before an outage may be older than the
        database's. Revocations in force are written with their remaining lifetime.
        """
        async with asyncio.timeout(max(self.timeout, 5.0)):
            stale = [key async for key in self.client.scan_iter(self.key("tv", "*"), count=1000)]
            for start in range(0, len(stale), 1000):
                await self.client.unlink(*stale[start : start + 1000])
            async with self.client.pipeline(transaction=False) as pipe:
                for jti, ttl in revoked:
                    if ttl is None:
                        pipe.set(self.key("revoked", jti), 1)
                    elif ttl > 0:
                        pipe.set(self.key("revoked", jti), 1, px=math.ceil(ttl * 1000))
                pipe.set(self.key(SEEDED), 1)
                await pipe.execute()

    async def ping(self) -> None:
        async with asyncio.timeout(self.timeout):
            await self.client.ping()

    async def clear(self, key: str) -> None:
        async with asyncio.timeout(self.timeout):
            await self.client.delete(self.key(key))

    async def disconnect(self) -> None:
        """Drop every connection; the next calls connect again."""
        if self._pipe is not None:
            self._pipe.close()
        await self.client.connection_pool.disconnect()

    async def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        await self.client.aclose()
