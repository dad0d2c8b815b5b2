"""The reference for bench/gateway.py: a pass-through proxy with no security at all.

Starlette and one pooled httpx client relay ``POST /v1/chat/completions`` to the upstream
in ``PASSTHROUGH_UPSTREAM`` and stream its answer back, byte for byte: no
authentication, no limits, no headers, no audit. What it costs is the cost of proxying
itself, the floor under Bastion's CPU per completion.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("PASSTHROUGH_UPSTREAM", "http://127.0.0.1:9/v1")
client = httpx.AsyncClient(base_url=UPSTREAM, timeout=300, limits=httpx.Limits(max_connections=200))


async def completions(request: Request) -> StreamingResponse:
    upstream = await client.send(
        client.build_request(
            "POST",
            "/chat/completions",
            content=await request.body(),
            headers={"content-type": "application/json"},
        ),
        stream=True,
    )
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type"),
        background=BackgroundTask(upstream.aclose),
    )


async def health(request: Request) -> StreamingResponse:
    return StreamingResponse(iter([b"ok"]))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await client.aclose()


app = Starlette(
    routes=[Route("/v1/chat/completions", completions, methods=["POST"]), Route("/", health)],
    lifespan=lifespan,
)
