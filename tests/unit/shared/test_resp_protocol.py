"""The RESP protocol of the pipelined connection, without a server: how commands are
packed, that one turn's commands leave in one write, and replies split across reads."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError

from bastion.shared.resp import _Protocol, pack


def test_commands_are_packed_as_arrays_of_bulk_strings() -> None:
    assert pack("SET", "k", 1.5, 7, b"\x00") == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n$1\r\n7\r\n$1\r\n\x00\r\n"
    )


class _ForeignTransport:
    """A transport of another event loop (uvloop's are not asyncio.Transport subclasses)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


async def test_commands_of_one_turn_leave_in_one_write_on_any_transport() -> None:
    transport = _ForeignTransport()
    protocol = _Protocol()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    first, second = protocol.send(pack("PING")), protocol.send(pack("ECHO", "x"))
    await asyncio.sleep(0)
    assert transport.written == [pack("PING") + pack("ECHO", "x")]
    protocol.data_received(b"+PONG\r\n$1\r")
    assert first.result() == b"PONG" and not second.done()  # the reply came in two reads
    protocol.data_received(b"\nx\r\n")
    assert second.result() == b"x"


async def test_a_command_sent_on_a_lost_connection_fails_at_once() -> None:
    protocol = _Protocol()
    protocol.connection_made(_ForeignTransport())  # type: ignore[arg-type]
    protocol.connection_lost(None)
    with pytest.raises(ConnectionError):
        await protocol.send(pack("PING"))
