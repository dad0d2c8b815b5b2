"""A RESP server that answers wrong things: a non-conforming stand-in, a broken proxy, or
another service on Redis's port.

It sits in front of a real Redis and passes every command on, except those it has been
told to answer itself: ``answer("EVALSHA", b"+OK\\r\\n")`` for one command, ``answer("*",
...)`` for all of them. ``behave()`` forgets what it was told, so a test can watch Bastion
recover. It runs on the test's event loop, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib

import hiredis

from bastion.shared.resp import pack

# Replies Bastion cannot use, by what is wrong with them.
OK = b"+OK\r\n"
INTEGER = b":7\r\n"
NIL = b"$-1\r\n"
WRONG_TYPES = b"*3\r\n$3\r\nyes\r\n*0\r\n+now\r\n"  # strings and arrays where numbers are due
GARBAGE = b"\x00\x01 not RESP at all\r\n"


class WrongRedis:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.replies: dict[str, bytes] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    def answer(self, command: str, reply: bytes) -> None:
        self.replies[command.upper()] = reply

    def behave(self) -> None:
        self.replies.clear()

    async def start(self) -> WrongRedis:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        commands = hiredis.Reader()
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while data := await reader.read(65536):
                commands.feed(data)
                while (command := commands.gets()) is not False:
                    name = command[0].decode().upper()
                    wrong = self.replies.get(name, self.replies.get("*"))
                    if wrong is not None:
                        writer.write(wrong)
                        continue
                    if upstream is None:
                        upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                    writer.write(await _forward(upstream, command))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            if upstream is not None:
                upstream[1].close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _forward(
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter], command: list[bytes]
) -> bytes:
    """Send one command to the real Redis and bring back its reply, byte for byte."""
    reader, writer = upstream
    writer.write(pack(*command))
    await writer.drain()
    replies = hiredis.Reader()
    raw = b""
    while True:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("the real Redis closed the connection")
        raw += data
        replies.feed(data)
        if replies.gets() is not False:
            return raw
