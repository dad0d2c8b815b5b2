"""The pipelined connection of the script calls, on a real Redis: every caller gets its own
reply, a caller that gave up never passes its reply on, a lost connection is made again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.exceptions import ConnectionError, NoScriptError, ResponseError

from bastion.shared.resp import PipelinedConnection
from tests.integration.redis_server import RedisServer


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[PipelinedConnection]:
    pipe = PipelinedConnection(url)
    try:
        yield pipe
    finally:
        pipe.close()


async def test_concurrent_callers_get_their_own_replies_on_one_connection(
    redis_session_server: RedisServer, redis_url: str
) -> None:
    async with connection(redis_url) as pipe:
        replies = await asyncio.gather(*(pipe.call("ECHO", f"caller {i}") for i in range(200)))
        assert replies == [f"caller {i}".encode() for i in range(200)]
        clients = redis_session_server.info("clients")
        assert "connected_clients:2\r\n" in clients  # the pipe and this INFO


async def test_error_replies_raise_and_noscript_is_told_apart(redis_url: str) -> None:
    async with connection(redis_url) as pipe:
        with pytest.raises(NoScriptError):
            await pipe.call("EVALSHA", "0" * 40, 0)
        with pytest.raises(ResponseError, match="unknown command"):
            await pipe.call("NO-SUCH-COMMAND")
        assert await pipe.call("ECHO", "after") == b"after"


async def test_the_database_of_the_url_is_selected(
    redis_session_server: RedisServer, redis_url: str
) -> None:
    async with connection(redis_url.removesuffix("/0") + "/3") as pipe:
        assert await pipe.call("SET", "in-three", "yes") == b"OK"
        assert await pipe.call("GET", "in-three") == b"yes"
        assert redis_session_server.command("EXISTS", "in-three") == ":0"  # not in db 0


async def test_the_password_of_the_url_is_sent_and_a_wrong_one_refused(
    redis_process: RedisServer,
) -> None:
    assert redis_process.command("CONFIG", "SET", "requirepass", "s3cret") == "+OK"
    with_password = redis_process.url.replace("redis://", "redis://:s3cret@")
    async with connection(with_password) as pipe:
        assert await pipe.call("PING") == b"PONG"
    async with connection(redis_process.url.replace("redis://", "redis://:wrong@")) as pipe:
        with pytest.raises(ResponseError):
            await pipe.call("PING")


async def test_a_caller_that_gave_up_never_receives_or_passes_on_a_reply(
    redis_process: RedisServer,
) -> None:
    async with connection(redis_process.url) as pipe:
        assert await pipe.call("PING") == b"PONG"
        redis_process.pause()
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await pipe.call("ECHO", "too late")
        finally:
            redis_process.resume()
        # The late reply to "too late" arrives first and is dropped.
        assert await pipe.call("ECHO", "on time") == b"on time"


async def test_a_lost_connection_fails_its_callers_and_the_next_call_reconnects(
    redis_process: RedisServer,
) -> None:
    async with connection(redis_process.url) as pipe:
        assert await pipe.call("PING") == b"PONG"
        redis_process.pause()
        waiting = asyncio.ensure_future(pipe.call("ECHO", "lost"))
        await asyncio.sleep(0)
        redis_process.kill()
        with pytest.raises(ConnectionError):
            await waiting
        with pytest.raises(OSError):  # nothing listens: refused, no hang
            await pipe.call("PING")
        redis_process.start()
        assert await pipe.call("PING") == b"PONG"
