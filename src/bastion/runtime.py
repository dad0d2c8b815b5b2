"""Settings an administrator changes while Bastion runs, the same on every process.

A change is read by the code that reads the environment at start (so what the start
refuses, a change refuses, with the same one-line message), stored in the database with
a new version, announced in Redis when there is one, and applied at once here. Another
process applies it before it next relies on a changed value: a route that reads one asks
whether the version moved (from Redis, else from the database; a process alone on its
database saw every change itself). An authenticated request has the answer already: the
one script that checks its token or key reads the version too. API keys are the
exception, checked on every request: switching them or their restrictions drops every
key that Redis vouches for, so each process's next ``sk-`` request reads the key again
from the database, and with it the settings.

With ``ENABLE_PERSISTENT_CONFIG=false`` the environment wins at every start: what was
stored is forgotten then, as in open-webui.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from starlette.types import Scope

from bastion.config import Settings, SettingsError
from bastion.config.runtime import with_changes
from bastion.shared.breaker import SharedRedis
from bastion.shared.redis import RedisStorage
from bastion.store.runtime_settings import RuntimeSettingsStore

log = logging.getLogger("bastion")

# Where an authenticated request's one round trip to Redis leaves the settings version it
# read (``auth/authenticate.py``): a route that relies on a changed value then asks
# Redis nothing more.
SETTINGS_VERSION_SEEN = "bastion.settings_version"

API_KEY_VARIABLES = frozenset(
    {"ENABLE_API_KEYS", "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS", "API_KEYS_ALLOWED_ENDPOINTS"}
)


class RuntimeSettings:
    def __init__(
        self,
        base: Settings,
        store: RuntimeSettingsStore,
        *,
        shared: SharedRedis | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = base
        self._store = store
        self._shared = shared
        self._clock = clock
        self._alone = base.sees_every_write
        self.settings = base
        self.version = 0
        # Told of each new settings object, to pass the values on to what holds them.
        self.on_change: list[Callable[[Settings], None]] = []

    async def load(self) -> None:
        """At start: the stored changes over the environment (or forgotten, when the
        environment must win)."""
        if not self._base.server.enable_persistent_config:
            self.version = await self._store.clear()
            await self._announce()
            return
        await self._read()

    async def refresh(self, scope: Scope | None = None) -> None:
        """Apply changes made by another process, if any (no-op for a process alone).

        ``scope``: the request's, holding the version its authentication saw, if any.
        """
        if self._alone:
            return
        announced: int | None = None if scope is None else scope.get(SETTINGS_VERSION_SEEN)
        if announced is None and self._shared is not None:
            announced = await self._shared.run(lambda redis: redis.settings_version())
        if announced is None:  # no Redis, or Redis away: the database knows
            announced = await self._store.version()
        if announced > self.version:
            await self._read()

    async def refresh_from_database(self) -> None:
        """As :meth:`refresh`, asking the database (for a path that reads it anyway)."""
        if not self._alone and await self._store.version() > self.version:
            await self._read()

    async def change(self, variables: Mapping[str, str], *, by: str) -> tuple[Settings, Settings]:
        """Validate, store, announce and apply; the settings before and after.

        Raises ``SettingsError`` for a value the start would refuse, changing nothing.
        """
        await self.refresh()
        before = self.settings
        _, stored = await self._store.read()
        with_changes(self._base, {**stored, **variables})  # raises if refused
        await self._store.save(variables, by=by, at=datetime.fromtimestamp(self._clock(), UTC))
        # Read back rather than applied as computed: another process's change stored in
        # between is part of the version this process now holds.
        await self._read()
        await self._announce(api_keys=bool(API_KEY_VARIABLES & set(variables)))
        return before, self.settings

    async def seed(self, redis: RedisStorage) -> None:
        """Announce the database's version to a Redis that lost it (flushed, restarted)."""
        await redis.raise_settings_version(await self._store.version())

    async def _read(self) -> None:
        version, stored = await self._store.read()
        settings = self._base
        if stored:
            try:
                settings = with_changes(self._base, stored)
            except SettingsError as refused:
                # The environment changed under a stored value: its own values, which the
                # start checked, hold until an administrator changes the setting again.
                log.warning("the settings changed at run time are not used: %s", refused)
        self._apply(settings)
        self.version = version

    def _apply(self, settings: Settings) -> None:
        self.settings = settings
        for listener in self.on_change:
            listener(settings)

    async def _announce(self, *, api_keys: bool = False) -> None:
        if self._shared is None:
            return
        version = self.version
        await self._shared.publish(lambda redis: redis.raise_settings_version(version))
        if api_keys:
            await self._shared.publish(lambda redis: redis.forget_api_keys())
