"""Upstreams replaced at run time: the model list is fetched again from the new ones, and a
list still coming from the old ones when they were replaced is not kept."""

from __future__ import annotations

import asyncio
import json

from bastion.gateway.catalog import ModelCatalog
from bastion.gateway.upstreams import Upstream
from bastion.outbound import AddressPolicy, OutboundClient
from tests.web_servers import SeenRequest, ServerFactory, respond


def _models(*names: str) -> bytes:
    return json.dumps({"data": [{"id": name, "created": 1} for name in names]}).encode()


async def test_a_list_fetched_while_the_upstreams_were_replaced_is_not_kept(
    web_server: ServerFactory,
) -> None:
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        asked.set()
        await release.wait()
        await respond(writer, 200, _models("old-model"), {"Content-Type": "application/json"})

    async def fast(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, _models("new-model"), {"Content-Type": "application/json"})

    old_server, new_server = await web_server(slow), await web_server(fast)
    old = Upstream("openai", 0, old_server.origin)
    new = Upstream("openai", 0, new_server.origin)
    client = OutboundClient(AddressPolicy.for_urls([old.base_url, new.base_url]))
    catalog = ModelCatalog([old], client, ttl=60, clock=lambda: 1000.0)
    try:
        pending = asyncio.create_task(catalog.models())
        await asked.wait()
        catalog.replace([new])
        release.set()
        assert list(await pending) == ["old-model"]  # the request that began before
        assert list(await catalog.models()) == ["new-model"]
        assert len(new_server.requests) == 1
    finally:
        await client.aclose()
