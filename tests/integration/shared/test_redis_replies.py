"""A reply Bastion cannot use is a Redis fault: every call of the Redis storage, against a
server that answers wrong things, raises a ``RedisError`` (so the caller falls back) and
never an ``IndexError`` or ``TypeError`` (a 500), nor a made-up count."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.exceptions import RedisError

from bastion.ratelimit.storage import Window
from bastion.shared.redis import RedisStorage, SessionActivity
from bastion.shared.resp import PipelinedConnection, UnusableReply
from tests.integration.redis_server import RedisServer
from tests.integration.wrong_redis import GARBAGE, INTEGER, NIL, OK, WRONG_TYPES, WrongRedis

T0 = 1_800_000_000.0
WINDOWS = [Window("rl:5/60:k", 5, 60.0)]
ROUTE = [Window("rl:2/60:costly:k", 2, 60.0)]
ACTIVITY = SessionActivity(60.0, 86460.0, 3600.0)

CALLS: dict[str, Callable[[RedisStorage], Awaitable[Any]]] = {
    "acquire": lambda redis: redis.acquire(WINDOWS, T0),
    "check_token": lambda redis: redis.check_token("jti", "sid", "user", WINDOWS, T0, ACTIVITY),
    "check_token_routed": lambda redis: redis.check_token(
        "jti", "sid", "user", WINDOWS, T0, ACTIVITY, ROUTE
    ),
    "check_api_key": lambda redis: redis.check_api_key("h" * 64, "user", WINDOWS, T0),
    "check_api_key_routed": lambda redis: redis.check_api_key("h" * 64, "user", WINDOWS, T0, ROUTE),
    "forget_api_key": lambda redis: redis.forget_api_key("h" * 64),
    "raise_version": lambda redis: redis.raise_version("user", 3),
    "mark_revoked": lambda redis: redis.mark_revoked("jti", 60.0),
    "mark_revoked_for_ever": lambda redis: redis.mark_revoked("jti", None),
    "seed": lambda redis: redis.seed([("jti", 60.0)]),
    "ping": lambda redis: redis.ping(),
    "clear": lambda redis: redis.clear("rl:5/60:k"),
}
# The command each call sends that a wrong server answers (the others reach Redis).
COMMANDS = {
    "acquire": "EVALSHA",
    "check_token": "EVALSHA",
    "check_token_routed": "EVALSHA",
    "check_api_key": "EVALSHA",
    "check_api_key_routed": "EVALSHA",
    "forget_api_key": "DEL",
    "raise_version": "EVALSHA",
    "mark_revoked": "SET",
    "mark_revoked_for_ever": "SET",
    "seed": "SCAN",
    "ping": "PING",
    "clear": "DEL",
}
WRONG = {"ok": OK, "integer": INTEGER, "nil": NIL, "wrong_types": WRONG_TYPES}
# Every call with every reply that is wrong for it (SET's +OK and DEL's count are right).
RIGHT = {"SET": OK, "DEL": INTEGER}
WRONG_REPLIES = [
    pytest.param(name, reply, id=f"{name}-{kind}")
    for name in CALLS
    for kind, reply in WRONG.items()
    if RIGHT.get(COMMANDS[name]) != reply
]


@pytest.fixture
async def wrong(redis_session_server: RedisServer, redis_url: str) -> AsyncIterator[WrongRedis]:
    server = await WrongRedis(redis_session_server.port).start()
    yield server
    await server.stop()


@pytest.fixture
async def storage(wrong: WrongRedis) -> AsyncIterator[RedisStorage]:
    storage = RedisStorage(wrong.url, prefix="test", timeout=2.0)
    yield storage
    await storage.close()


async def test_the_stand_in_passes_everything_on_until_told_otherwise(
    storage: RedisStorage,
) -> None:
    for call in CALLS.values():
        await call(storage)
    assert (await storage.acquire(WINDOWS, T0)).allowed


@pytest.mark.parametrize(("name", "reply"), WRONG_REPLIES)
async def test_a_wrong_reply_to_any_call_is_an_unusable_reply(
    storage: RedisStorage, wrong: WrongRedis, name: str, reply: bytes
) -> None:
    wrong.answer(COMMANDS[name], reply)
    with pytest.raises(UnusableReply):
        await CALLS[name](storage)


@pytest.mark.parametrize("reply", WRONG.values(), ids=WRONG.keys())
async def test_a_wrong_answer_to_script_load_is_never_run_as_the_script(
    storage: RedisStorage, wrong: WrongRedis, redis_session_server: RedisServer, reply: bytes
) -> None:
    assert redis_session_server.command("CONFIG", "RESETSTAT") == "+OK"
    wrong.answer("SCRIPT", reply)
    with pytest.raises(UnusableReply, match="SCRIPT LOAD"):
        await storage.acquire(WINDOWS, T0)
    assert redis_session_server.command_calls().get("evalsha", 0) == 0


@pytest.mark.parametrize("name", CALLS)
async def test_bytes_that_are_not_resp_are_a_redis_fault(
    storage: RedisStorage, wrong: WrongRedis, name: str
) -> None:
    wrong.answer(COMMANDS[name], GARBAGE)
    with pytest.raises(RedisError):
        await CALLS[name](storage)


async def test_window_counts_of_the_wrong_sign_or_number_are_refused(
    storage: RedisStorage, wrong: WrongRedis
) -> None:
    wrong.answer("EVALSHA", b"*3\r\n:1\r\n:-4\r\n$3\r\n1.5\r\n")  # a negative count
    with pytest.raises(UnusableReply, match="integer"):
        await storage.acquire(WINDOWS, T0)
    wrong.answer("EVALSHA", b"*5\r\n:1\r\n:0\r\n$3\r\n1.5\r\n:0\r\n$3\r\n1.5\r\n")  # two windows
    with pytest.raises(UnusableReply, match="3 values"):
        await storage.acquire(WINDOWS, T0)
    wrong.answer("EVALSHA", b"*3\r\n:2\r\n:0\r\n$3\r\nnan\r\n")
    with pytest.raises(UnusableReply):
        await storage.acquire(WINDOWS, T0)


async def test_an_api_key_generation_that_is_not_a_string_is_refused(
    storage: RedisStorage, wrong: WrongRedis
) -> None:
    windows = b":1\r\n:0\r\n$3\r\n1.5\r\n"
    for generation in (b":7\r\n", b"$0\r\n\r\n", b"$-1\r\n"):
        reply = b":1\r\n" + generation + b":-1\r\n:0\r\n" + windows  # then the settings
        wrong.answer("EVALSHA", b"*7\r\n" + reply)
        with pytest.raises(UnusableReply, match="generation"):
            await storage.check_api_key("h" * 64, "user", WINDOWS, T0)


async def test_a_settings_version_that_is_not_a_count_is_refused(
    storage: RedisStorage, wrong: WrongRedis
) -> None:
    windows = b":1\r\n:0\r\n$3\r\n1.5\r\n"
    for settings in (b":-3\r\n", b"$2\r\n12\r\n"):
        reply = b":1\r\n$4\r\ngen1\r\n:-1\r\n" + settings + windows
        wrong.answer("EVALSHA", b"*7\r\n" + reply)
        with pytest.raises(UnusableReply, match="integer"):
            await storage.check_api_key("h" * 64, "user", WINDOWS, T0)


async def test_garbage_on_the_pipelined_connection_fails_its_caller_and_it_reconnects(
    wrong: WrongRedis,
) -> None:
    pipe = PipelinedConnection(wrong.url)
    try:
        assert await pipe.call("ECHO", "before") == b"before"
        wrong.answer("ECHO", GARBAGE)
        with pytest.raises(UnusableReply, match="unreadable"):
            await pipe.call("ECHO", "garbled")
        wrong.behave()
        assert await pipe.call("ECHO", "after") == b"after"
    finally:
        pipe.close()
