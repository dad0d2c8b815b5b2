"""The ASGI response of every proxied call: the upstream lives exactly as long as the client.

The exchange with the upstream runs inside the response, next to a watcher of the
client's connection. When the client goes away, the watcher cancels the exchange and
the upstream connection is closed at once, instead of the model generating (and Bastion
holding a socket) for a reader that is gone; this holds while waiting for the upstream's
first byte too. Chunks are sent as they arrive, never collected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bastion.errors import render
from bastion.gateway.upstreams import UpstreamFailure

SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


@dataclass(slots=True)
class Reply:
    """What goes back to the client once the upstream has answered well enough to start."""

    media_type: str
    chunks: AsyncIterator[bytes]
    status: int = 200


Exchange = Callable[[], AbstractAsyncContextManager[Reply]]


class UpstreamResponse(Response):
    """A response whose status, type and body come from the exchange with the upstream."""

    def __init__(self, exchange: Exchange, headers: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._exchange = exchange
        self._extra_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await self._respond(send)
            finally:
                group.cancel_scope.cancel()

    async def _respond(self, send: Send) -> None:
        started = False
        try:
            async with self._exchange() as reply:
                headers = [
                    (b"content-type", reply.media_type.encode("latin-1")),
                    *self._extra_headers,
                ]
                if reply.media_type.startswith(("text/event-stream", "application/x-ndjson")):
                    headers += SSE_HEADERS
                start = {"type": "http.response.start", "status": reply.status, "headers": headers}
                await send(start)
                started = True
                async for chunk in reply.chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamFailure as failure:
            if started:  # too late for a status: the stream just ends
                await send({"type": "http.response.body", "body": b""})
                return
            body = render(failure)
            await send(
                {
                    "type": "http.response.start",
                    "status": failure.status_code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *self._extra_headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.body", "body": b""})
