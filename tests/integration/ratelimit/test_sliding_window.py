"""The sliding-window log, the same tests on every storage: memory, a real Redis, and the
failover storage (a real Redis behind the circuit breaker, memory while it is away)."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import pytest

from bastion.audit.events import SecurityEvents
from bastion.ratelimit import (
    Failover,
    MemoryStorage,
    RateLimit,
    SlidingWindowLog,
    Storage,
    parse_limit,
    storage_from_uri,
)
from bastion.ratelimit.failover import FailoverStorage
from bastion.ratelimit.storage import Window
from bastion.shared.redis import RedisStorage
from tests.integration.redis_server import RedisServer

T0 = 1_800_000_000.0
SCRIPT_COMMANDS = {"zremrangebyscore", "zcard", "zrange", "zadd", "pexpire"}


@pytest.fixture(params=["memory", "redis", "failover"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    if request.param == "memory":
        storage = storage_from_uri("memory://")
    elif request.param == "redis":
        storage = storage_from_uri(request.getfixturevalue("redis_url"), prefix="test")
    else:
        storage = storage_from_uri(
            request.getfixturevalue("redis_url"),
            prefix="test",
            failover=Failover(SecurityEvents()),
        )
        assert isinstance(storage, FailoverStorage)
        await storage.shared.start()
        assert storage.shared.available  # the suite runs on Redis, not on the fallback
    yield storage
    await storage.close()


@pytest.fixture
def limiter(storage: Storage) -> SlidingWindowLog:
    return SlidingWindowLog(storage)


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("5/3m", RateLimit(5, 180.0)),
        ("100/1h", RateLimit(100, 3600.0)),
        ("10/s", RateLimit(10, 1.0)),
        (" 2 / 1d12h ", RateLimit(2, 129_600.0)),
        ("3/500ms", RateLimit(3, 0.5)),
    ],
)
def test_limits_parse_from_n_per_period(text: str, limit: RateLimit) -> None:
    assert parse_limit(text) == limit


@pytest.mark.parametrize("text", ["", "5", "five/3m", "0/1m", "5/", "5/3x", "-1/1m", "5/0s"])
def test_malformed_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_limit(text)


async def test_a_three_minute_window_counts_exactly_three_minutes(
    limiter: SlidingWindowLog,
) -> None:
    limit = [(parse_limit("3/3m"), "k")]
    for offset in (0.0, 60.0, 120.0):
        assert (await limiter.hit(limit, T0 + offset)).allowed
    refused = await limiter.hit(limit, T0 + 150.0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(30.0)
    # The first hit still counts a millisecond before its three minutes are up ...
    assert not (await limiter.hit(limit, T0 + 179.999)).allowed
    # ... and stops counting at exactly three minutes, not at four.
    assert (await limiter.hit(limit, T0 + 180.0)).allowed
    assert not (await limiter.hit(limit, T0 + 180.5)).allowed
    assert (await limiter.hit(limit, T0 + 240.0)).allowed


async def test_refused_hits_are_not_counted(limiter: SlidingWindowLog) -> None:
    limit = [(parse_limit("2/1m"), "k")]
    await limiter.hit(limit, T0)
    await limiter.hit(limit, T0 + 1)
    for second in range(2, 50):
        assert not (await limiter.hit(limit, T0 + second)).allowed
    assert (await limiter.hit(limit, T0 + 60)).allowed


async def test_headers_give_limit_remaining_reset_and_retry_after(
    limiter: SlidingWindowLog,
) -> None:
    limit = [(parse_limit("2/1m"), "k")]
    first = await limiter.hit(limit, T0)
    assert first.headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "1",
        "RateLimit-Reset": "60",
    }
    second = await limiter.hit(limit, T0 + 10.2)
    # Room comes back when the first hit leaves the window, 49.8 s from now.
    assert second.headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "50",
    }
    refused = await limiter.hit(limit, T0 + 20.5)
    assert refused.headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "40",
        "Retry-After": "40",
    }


async def test_keys_are_counted_apart(limiter: SlidingWindowLog) -> None:
    limit = parse_limit("1/1m")
    assert (await limiter.hit([(limit, "a")], T0)).allowed
    assert (await limiter.hit([(limit, "b")], T0)).allowed
    assert not (await limiter.hit([(limit, "a")], T0)).allowed


async def test_several_limits_are_taken_all_or_nothing(limiter: SlidingWindowLog) -> None:
    narrow, wide = parse_limit("1/1m"), parse_limit("3/1m")
    assert (await limiter.hit([(narrow, "a"), (wide, "shared")], T0)).allowed
    refused = await limiter.hit([(narrow, "a"), (wide, "shared")], T0 + 1)
    assert not refused.allowed and refused.limit == narrow
    # The refused hit did not use up the wide limit: two more fit under it.
    assert (await limiter.hit([(narrow, "b"), (wide, "shared")], T0 + 2)).allowed
    assert (await limiter.hit([(narrow, "c"), (wide, "shared")], T0 + 3)).allowed
    blocked = await limiter.hit([(narrow, "d"), (wide, "shared")], T0 + 4)
    assert not blocked.allowed and blocked.limit == wide
    assert blocked.retry_after == pytest.approx(56.0)


async def test_reset_forgets_a_key(limiter: SlidingWindowLog) -> None:
    limit = parse_limit("1/1h")
    await limiter.hit([(limit, "a")], T0)
    await limiter.reset(limit, "a")
    assert (await limiter.hit([(limit, "a")], T0 + 1)).allowed


async def test_redis_check_is_one_round_trip_and_survives_script_flush(
    redis_session_server: RedisServer, redis_url: str
) -> None:
    storage = RedisStorage(redis_url, prefix="test")
    limiter = SlidingWindowLog(storage)
    limit = [(parse_limit("5/1m"), "a"), (parse_limit("9/1m"), "b")]
    try:
        await limiter.hit(limit, T0)  # loads the script
        redis_session_server.command("CONFIG", "RESETSTAT")
        for second in range(3):
            await limiter.hit(limit, T0 + second)
        calls = redis_session_server.command_calls()
        # Three checks, three EVALSHA; everything else ran inside the script.
        assert calls.pop("evalsha") == 3
        assert set(calls) <= SCRIPT_COMMANDS | {"config|resetstat", "info"}
        # A Redis that forgot its scripts (SCRIPT FLUSH, restart) answers NOSCRIPT: reload.
        assert redis_session_server.command("SCRIPT", "FLUSH") == "+OK"
        assert (await limiter.hit(limit, T0 + 4)).remaining == 0
    finally:
        await storage.close()


def test_memory_storage_stays_at_its_bound_with_a_million_keys() -> None:
    storage = MemoryStorage(max_keys=1_000)

    def spray(first: int, count: int) -> None:
        for i in range(first, first + count):
            storage.take([Window(f"key-{i}", 5, 60.0)], T0 + i * 1e-6)

    for block in range(10):
        spray(block * 100_000, 100_000)
        assert len(storage) == 1_000
    # Memory is flat once at the bound: 20,000 more keys leave nothing behind.
    tracemalloc.start()
    try:
        spray(1_000_000, 20_000)  # every stored key is now one that tracemalloc saw made
        before, _ = tracemalloc.get_traced_memory()
        spray(1_020_000, 20_000)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(storage) == 1_000
    assert after - before < 64 * 1024


def test_memory_storage_drops_idle_keys() -> None:
    storage = MemoryStorage(max_keys=1_000)
    for i in range(10):
        storage.take([Window(f"old-{i}", 5, 60.0)], T0)
    for i in range(10):
        storage.take([Window(f"new-{i}", 5, 60.0)], T0 + 61.0)
    assert len(storage) == 10


async def test_a_window_of_amount_zero_is_a_look_that_records_nothing(storage: Storage) -> None:
    look = Window("looked-at", 0, 60.0)
    first = await storage.acquire([look], T0)
    assert (first.allowed, [state.count for state in first.states]) == (False, [0])
    assert (await storage.acquire([Window("looked-at", 5, 60.0)], T0 + 1)).allowed
    second = await storage.acquire([look], T0 + 2)
    assert (second.allowed, [(s.count, s.oldest) for s in second.states]) == (False, [(1, T0 + 1)])


async def test_a_look_decides_as_a_hit_would_and_counts_nothing(limiter: SlidingWindowLog) -> None:
    # Limits on failures: look before the costly work, count only what failed.
    limit = [(parse_limit("2/1m"), "failures")]
    for _ in range(3):
        assert (await limiter.look(limit, T0)).allowed
    await limiter.hit(limit, T0)
    assert (await limiter.look(limit, T0 + 1)).allowed
    await limiter.hit(limit, T0 + 2)
    refused = await limiter.look(limit, T0 + 3)
    assert not refused.allowed and refused.headers()["Retry-After"] == "57"
    assert (await limiter.look(limit, T0 + 60)).allowed  # the first failure left the window
