"""The merged model list: every upstream's models under ids unique across all of them.

A model id that an earlier upstream already uses gets the upstream's name as a prefix
(``ollama-1/llama3``), so that a request can never silently reach another server than
the one the id names. The list is kept ``ttl`` seconds: listing models costs a call to
every upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.gateway.upstreams import (
    Upstream,
    UpstreamFailure,
    open_stream,
    read_json,
)
from bastion.outbound import OutboundClient

log = logging.getLogger("bastion.gateway")


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: str
    upstream: Upstream
    upstream_id: str
    created: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.upstream.kind,
            "name": self.upstream_id,
        }


def _listed(upstream: Upstream, answer: Any) -> list[tuple[str, int]]:
    """``(id, created)`` pairs from ``/models`` (OpenAI) or ``/api/tags`` (Ollama)."""
    key, name = ("data", "id") if upstream.kind == "openai" else ("models", "model")
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise UpstreamFailure("The model server's model list is not in the expected format.")
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        model = item.get(name) or item.get("name")
        created = item.get("created")
        if isinstance(model, str) and model:
            found.append((model, created if isinstance(created, int) else 0))
    return found


class ModelCatalog:
    def __init__(
        self,
        upstreams: Sequence[Upstream],
        client: OutboundClient,
        *,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.upstreams = tuple(upstreams)
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._models: dict[str, ModelEntry] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def models(self) -> dict[str, ModelEntry]:
        """Every model by id, in upstream order; refreshed when older than the TTL."""
        if self._fresh():
            return self._models
        async with self._lock:  # one refresh at a time, the others wait for its result
            if not self._fresh():
                upstreams = self.upstreams
                models = await self._fetch_all(upstreams)
                if upstreams is not self.upstreams:
                    # Replaced while fetching: the list of the old upstreams is not kept.
                    return models
                self._models = models
                self._fetched_at = self._clock()
        return self._models

    def replace(self, upstreams: Sequence[Upstream]) -> None:
        """Other upstreams from now on (changed at run time): the list is fetched again."""
        self.upstreams = tuple(upstreams)
        self._models = {}
        self._fetched_at = None

    async def get(self, model_id: str) -> ModelEntry | None:
        return (await self.models()).get(model_id)

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    async def _fetch_all(self, upstreams: tuple[Upstream, ...]) -> dict[str, ModelEntry]:
        lists = await asyncio.gather(*(self._fetch(upstream) for upstream in upstreams))
        merged: dict[str, ModelEntry] = {}
        for upstream, listed in zip(upstreams, lists, strict=True):
            for model, created in listed:
                model_id = model if model not in merged else f"{upstream.name}/{model}"
                merged.setdefault(model_id, ModelEntry(model_id, upstream, model, created))
        return merged

    async def _fetch(self, upstream: Upstream) -> list[tuple[str, int]]:
        path = "/models" if upstream.kind == "openai" else "/api/tags"
        try:
            async with open_stream(self._client, upstream, "GET", path) as response:
                return _listed(upstream, await read_json(self._client, response))
        except UpstreamFailure as failure:
            # One server down must not hide the others' models; the name, never the URL.
            log.warning("model list of %s unavailable: %s", upstream.name, failure.code)
            return []
