"""Where rate-limit windows live: the ``Storage`` protocol and its in-process storage.

Storages provide one primitive, ``acquire``: take a hit in every given window or in
none. Strategies decide what the keys are and what the counts mean.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    amount: int
    period: float


@dataclass(frozen=True, slots=True)
class WindowState:
    count: int  # hits in the window before this one
    oldest: float  # time of the oldest hit still in the window (now when empty)


@dataclass(frozen=True, slots=True)
class Acquired:
    allowed: bool
    states: tuple[WindowState, ...]


class Storage(Protocol):
    async def acquire(self, windows: Sequence[Window], now: float) -> Acquired:
        """Record a hit at ``now`` in every window, or in none if any is full."""
        ...

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStorage:
    """Sliding-window logs in this process, bounded to ``max_keys`` keys.

    Without a bound, an attacker who varies the key (a new e-mail or address on every
    request) would grow the process until it dies. Keys are kept in least-recently-used
    order: idle ones are dropped as they expire, and past the bound the least recently
    used goes first. A key that an attacker keeps hitting is always recent, so it is the
    last to be evicted.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        self.max_keys = max_keys
        # key -> (period, hit times, oldest first)
        self._logs: OrderedDict[str, tuple[float, deque[float]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._logs)

    def take(self, windows: Sequence[Window], now: float) -> Acquired:
        """``acquire`` without the coroutine: no await inside, so atomic on the loop."""
        logs = self._logs
        states = []
        allowed = True
        for window in windows:
            entry = logs.get(window.key)
            if entry is None:
                states.append(WindowState(0, now))
                if window.amount <= 0:  # always full, as in the Lua script: a look only
                    allowed = False
                continue
            hits = entry[1]
            horizon = now - window.period
            while hits and hits[0] <= horizon:
                hits.popleft()
            count = len(hits)
            states.append(WindowState(count, hits[0] if hits else now))
            if count >= window.amount:
                allowed = False
        if allowed:
            for window in windows:
                entry = logs.get(window.key)
                if entry is None:
                    logs[window.key] = (window.period, deque((now,)))
                else:
                    entry[1].append(now)
                    logs.move_to_end(window.key)
            self._evict(now)
        return Acquired(allowed, tuple(states))

    def _evict(self, now: float) -> None:
        logs = self._logs
        # Idle keys at the cold end go first (a little at a time, never a long pause) ...
        for _ in range(2):
            if not logs:
                return
            key, (period, hits) = next(iter(logs.items()))
            if hits and hits[-1] > now - period:
                break
            del logs[key]
        # ... then, past the bound, the least recently used.
        while len(logs) > self.max_keys:
            logs.popitem(last=False)

    async def acquire(self, windows: Sequence[Window], now: float) -> Acquired:
        return self.take(windows, now)

    async def clear(self, key: str) -> None:
        self._logs.pop(key, None)

    async def close(self) -> None:
        self._logs.clear()
