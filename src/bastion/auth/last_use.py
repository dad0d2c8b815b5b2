"""When each API key was last used, written to the database off the request path.

A program calling with its key many times a second would otherwise cost a database
write a request. A use is noted in memory, at most one a minute per key
(``LAST_USED_RESOLUTION``); one background task writes what was noted, all of it in one
transaction, while requests go on; closing writes what is still waiting.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bastion.store.api_keys import ApiKeyStore

# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = 60.0
# Past this many keys noted, those noted longer than the resolution ago are forgotten.
_MAX_NOTED = 100_000

log = logging.getLogger("bastion.api_keys")


class LastUse:
    def __init__(
        self,
        store: ApiKeyStore,
        *,
        clock: Callable[[], float] = time.time,
        resolution: float = LAST_USED_RESOLUTION,
    ) -> None:
        self._store = store
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
        self._pending[key_id] = datetime.fromtimestamp(now, UTC)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await self._store.touch(batch)
            except Exception:  # the database is away: these keys' next use notes again
                log.warning("could not record the last use of %d API key(s)", len(batch))
                for key_id in batch:
                    self._noted.pop(key_id, None)
                return

    async def flush(self) -> None:
        """Wait until every use noted so far is written (tests; an orderly shutdown)."""
        if self._writer is not None:
            await self._writer
        await self._write()
