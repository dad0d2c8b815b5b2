"""When each API key or session was last used, written to the database off the request
path.

A program calling with its key many times a second would otherwise cost a database
write a request. A use is noted in memory, at most one a minute per key or session
(``LAST_USED_RESOLUTION``); one background task writes what was noted, all of it in one
transaction, while requests go on; closing writes what is still waiting. With Redis,
sessions are throttled there across every instance and only ``queue`` is used here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = 60.0
# Past this many keys noted, those noted longer than the resolution ago are forgotten.
_MAX_NOTED = 100_000

log = logging.getLogger("bastion.last_use")


class Touches(Protocol):
    async def touch(self, used: Mapping[str, datetime], /) -> None:
        """Write when each id was last used, never moving a time back."""


class LastUse:
    def __init__(
        self,
        store: Touches,
        *,
        clock: Callable[[], float] = time.time,
        resolution: float = LAST_USED_RESOLUTION,
        what: str = "API key",
    ) -> None:
        self._store = store
        self._what = what
        self._clock = clock
        self.resolution = resolution
        self._noted: dict[str, float] = {}  # key id -> the use last noted for writing
        self._pending: dict[str, datetime] = {}
        self._writer: asyncio.Task[None] | None = None

    def note(self, key_id: str) -> None:
        """The key is being used now; written soon, unless a use was a minute ago or less."""
        now = self._clock()
        if now - self._noted.get(key_id, -math.inf) < self.resolution:
            return
        if len(self._noted) >= _MAX_NOTED:
            self._noted = {k: t for k, t in self._noted.items() if now - t < self.resolution}
        self._noted[key_id] = now
        self.queue(key_id, now)

    def noted_at(self, key_id: str) -> float | None:
        """When a use of the key was last noted here (None: not since this process began)."""
        return self._noted.get(key_id)

    def remember(self, key_id: str, moment: float) -> None:
        """A use known from elsewhere (the database): nothing to write for it."""
        if moment > self._noted.get(key_id, -math.inf):
            self._noted[key_id] = moment

    def queue(self, key_id: str, moment: float) -> None:
        """Write this use soon, whatever was noted before (the caller throttled it)."""
        self._pending[key_id] = datetime.fromtimestamp(moment, UTC)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await self._store.touch(batch)
            except Exception:  # the database is away: these keys' next use notes again
                log.warning("could not record the last use of %d %s(s)", len(batch), self._what)
                for key_id in batch:
                    self._noted.pop(key_id, None)
                return

    async def flush(self) -> None:
        """Wait until every use noted so far is written (tests; an orderly shutdown)."""
        if self._writer is not None:
            await self._writer
        await self._write()
