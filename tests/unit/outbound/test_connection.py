"""The outbound client's connection wrapper: one segment per request, nothing lost."""

from __future__ import annotations

import socket
from typing import Any

import httpcore

from bastion.outbound.pinning import _CoalescingStream


class RecordingStream(httpcore.AsyncNetworkStream):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        self.calls.append(("read", timeout))
        return b"answer"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.calls.append(("write", buffer, timeout))

    async def aclose(self) -> None:
        self.calls.append(("close",))

    def get_extra_info(self, info: str) -> Any:
        return None


async def test_a_request_head_and_body_go_out_in_one_write() -> None:
    inner = RecordingStream()
    stream = _CoalescingStream(inner)
    await stream.write(b"head", 1.0)
    await stream.write(b"body", 2.0)
    await stream.write(b"", 2.0)  # httpcore's end of message with a known length
    assert await stream.read(100, 3.0) == b"answer"
    assert inner.calls == [("write", b"headbody", 2.0), ("read", 3.0)]


async def test_a_held_write_is_sent_before_reading_under_its_own_timeout() -> None:
    inner = RecordingStream()
    stream = _CoalescingStream(inner)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n", 1.0)
    assert inner.calls == []
    await stream.read(100, 3.0)
    assert inner.calls == [("write", b"GET / HTTP/1.1\r\n\r\n", 1.0), ("read", 3.0)]


async def test_a_streamed_body_is_sent_in_order_holding_at_most_one_chunk() -> None:
    inner = RecordingStream()
    stream = _CoalescingStream(inner)
    for chunk in (b"head", b"one", b"two", b"three"):
        await stream.write(chunk, 1.0)
    await stream.read(100, 3.0)
    writes = [call[1] for call in inner.calls if call[0] == "write"]
    assert writes == [b"headone", b"twothree"]


async def test_a_closed_connection_sends_nothing_it_held() -> None:
    inner = RecordingStream()
    stream = _CoalescingStream(inner)
    await stream.write(b"head", 1.0)
    await stream.aclose()
    assert inner.calls == [("close",)]


async def test_an_idle_connection_with_data_waiting_is_not_reusable() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:

        class SocketStream(RecordingStream):
            def get_extra_info(self, info: str) -> Any:
                return ours if info == "socket" else None

        stream = _CoalescingStream(SocketStream())
        assert stream.get_extra_info("is_readable") is False
        theirs.close()  # the server closes the kept-alive connection
        assert stream.get_extra_info("is_readable") is True
