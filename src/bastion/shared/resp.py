"""One pipelined Redis connection for the per-request script call.

redis-py takes a pooled connection, wraps the call in retry and observability layers and
writes each command with its own system call: about 75 µs of CPU per call under load,
more than the rest of the Redis path together. Here every caller writes its command to
one shared connection (the commands of one turn of the event loop leave in one write)
and waits for its own reply: Redis answers a connection's commands in order, so replies
are matched first in, first out. Still one round trip per call.

A caller that gives up (its deadline passed) leaves its place in the queue, and the
reply that arrives for it later is dropped, so no reply can reach the wrong caller. A
lost connection fails every waiting caller with ``ConnectionError``; the next call
connects again. Bytes that are not RESP (a wrong service on the port, a broken proxy)
fail them with :class:`UnusableReply` and drop the connection: once the stream cannot
be read, no later reply can be matched to its caller.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError, NoScriptError, RedisError, ResponseError


class UnusableReply(RedisError):
    """Redis answered something Bastion cannot use: unreadable, or not what was asked.

    A fault like silence: the caller falls back to local state (``failover``) instead of
    failing the request, whatever a non-conforming server or proxy sends back.
    """


def pack(*args: str | bytes | int | float) -> bytes:
    """A command in RESP: an array of bulk strings (numbers as their shortest text)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio's: no isinstance).
        self.transport = cast(asyncio.Transport, transport)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if self.closed:
            reply.set_exception(ConnectionError("connection to Redis lost"))
            return reply
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(command)
        self.waiting.append(reply)
        return reply

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self._next_reply()) is not False:
            if not self.waiting:  # Redis never answers what was not asked
                self.close(ConnectionError("unexpected reply from Redis"))
                return
            waiter = self.waiting.popleft()
            if waiter.done():  # its caller gave up; the reply is dropped
                continue
            if isinstance(reply, ResponseError):
                message = str(reply)
                error = NoScriptError(message) if message.startswith("NOSCRIPT") else reply
                waiter.set_exception(error)
            else:
                waiter.set_result(reply)

    def _next_reply(self) -> Any:
        try:
            return self.reader.gets()
        except hiredis.ProtocolError:
            self.close(UnusableReply("unreadable reply from Redis"))
            return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError("connection to Redis lost"))

    def close(self, exc: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(exc)


def _retrieve(future: asyncio.Future[_Protocol]) -> None:
    # A failed connection attempt nobody waits for any more is not an unhandled error.
    if not future.cancelled():
        future.exception()


class PipelinedConnection:
    """``await call(*args)``: one command on the shared connection, its reply back.

    For ``redis://`` and ``unix://`` URLs (password, user and database included). The
    caller bounds the wait (``asyncio.timeout``); connecting happens inside that bound.
    """

    def __init__(self, url: str) -> None:
        self._options = parse_url(url)
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def call(self, *args: str | bytes | int | float) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        return await protocol.send(pack(*args))

    async def _connect(self) -> _Protocol:
        # Callers arriving while a connection is being made wait for that one; one that
        # gives up does not stop it for the others.
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(_retrieve)
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self._options
        if "path" in options:
            _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
        else:
            _, protocol = await loop.create_connection(
                _Protocol, options.get("host", "localhost"), options.get("port", 6379)
            )
        try:
            if options.get("password") is not None:
                user = options.get("username")
                credentials = (user, options["password"]) if user else (options["password"],)
                await protocol.send(pack("AUTH", *credentials))
            if options.get("db"):
                await protocol.send(pack("SELECT", options["db"]))
        except BaseException:
            protocol.close(ConnectionError("Redis refused the connection's set-up"))
            raise
        self._protocol = protocol
        return protocol

    def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._protocol is not None:
            self._protocol.close(ConnectionError("closed"))
            self._protocol = None
