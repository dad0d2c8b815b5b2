"""Chat completions and the raw Ollama API, forwarded to the upstream that serves a model."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from starlette.types import Scope

from bastion.audit.events import SecurityEvents
from bastion.auth.authenticate import Principal
from bastion.config import Settings
from bastion.gateway.access import ModelAccessControl
from bastion.gateway.catalog import ModelCatalog, ModelEntry
from bastion.gateway.ollama import ndjson, openai_chunks, sse, to_ollama_chat, to_openai_completion
from bastion.gateway.streaming import Exchange, Reply, UpstreamResponse
from bastion.gateway.upstreams import (
    GatewayError,
    ModelNotFound,
    Upstream,
    UpstreamFailure,
    UpstreamRejected,
    open_stream,
    read_body,
    read_json,
    translate_errors,
    upstreams_from,
)
from bastion.jsondata import parse_json
from bastion.outbound import AddressPolicy, OutboundClient, OutboundTimeouts
from bastion.store.db import Database
from bastion.store.groups import GroupStore
from bastion.store.model_access import ModelAccessStore

RELAYED_TYPES = ("application/json", "application/x-ndjson", "text/event-stream", "text/plain")


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _relay(response: httpx.Response, *, sse_errors: bool) -> AsyncIterator[bytes]:
    """The upstream's bytes as they come; a failure mid-stream ends it (with an SSE error)."""
    try:
        with translate_errors():
            async for chunk in response.aiter_bytes():
                yield chunk
    except UpstreamFailure as failure:
        if sse_errors:  # the blank line first ends an event the failure cut short
            yield b"\n\n" + sse({"error": failure.body()["error"]})


class Gateway:
    def __init__(
        self,
        catalog: ModelCatalog,
        access: ModelAccessControl,
        client: OutboundClient,
        events: SecurityEvents,
        *,
        max_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.access = access
        self._client = client
        self._events = events
        self._max_size = max_size
        self._clock = clock

    async def aclose(self) -> None:
        await self._client.aclose()

    def reconfigure(self, settings: Settings) -> None:
        """The upstreams and keys of ``settings`` from the next request on (changed at run
        time); a request already under way finishes with the upstream it had."""
        upstreams = upstreams_from(settings)
        if upstreams == self.catalog.upstreams:
            return
        self._client.set_policy(_policy_for(upstreams))
        self.catalog.replace(upstreams)

    async def usable_models(self, principal: Principal) -> list[ModelEntry]:
        models = await self.catalog.models()
        return [models[model_id] for model_id in await self.access.usable(principal, models)]

    async def resolve(self, principal: Principal, model_id: object, scope: Scope) -> ModelEntry:
        """The model the caller asked for, if it exists and the caller may use it."""
        entry = await self.catalog.get(model_id) if isinstance(model_id, str) else None
        if entry is None:
            raise ModelNotFound
        if not await self.access.may_use(principal, entry.id):
            self._events.record(
                "model.access_denied",
                outcome="denied",
                scope=scope,
                actor=principal,
                api_key_id=principal.api_key_id,
                model=entry.id,
            )
            raise ModelNotFound
        return entry

    def chat_completion(
        self,
        entry: ModelEntry,
        body: dict[str, Any],
        around: Callable[[Exchange], Exchange] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        """The model's answer; ``around`` wraps the exchange (to store it in a chat),
        ``headers`` go out with it whatever its status."""
        chat = self._openai_chat if entry.upstream.kind == "openai" else self._ollama_chat

        def exchange() -> AbstractAsyncContextManager[Reply]:
            return chat(entry, body)

        return UpstreamResponse(exchange if around is None else around(exchange), headers)

    def _open(
        self, upstream: Upstream, method: str, path: str, **kwargs: Any
    ) -> AbstractAsyncContextManager[httpx.Response]:
        return open_stream(self._client, upstream, method, path, **kwargs)

    @asynccontextmanager
    async def _openai_chat(self, entry: ModelEntry, body: dict[str, Any]) -> AsyncIterator[Reply]:
        stream = bool(body.get("stream"))
        payload = {**body, "model": entry.upstream_id}
        accept = "text/event-stream" if stream else "application/json"
        async with self._open(
            entry.upstream, "POST", "/chat/completions", body=payload, accept=accept
        ) as response:
            if response.status_code >= 400:
                raise UpstreamRejected(response.status_code)
            if not stream:
                raw = await read_body(self._client, response)
                _check_completion(raw)
                yield Reply("application/json", _once(raw))
                return
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise UpstreamFailure("The model server did not answer with a stream.")
            yield Reply("text/event-stream", _relay(response, sse_errors=True))

    @asynccontextmanager
    async def _ollama_chat(self, entry: ModelEntry, body: dict[str, Any]) -> AsyncIterator[Reply]:
        payload = to_ollama_chat(body, entry.upstream_id)
        async with self._open(entry.upstream, "POST", "/api/chat", body=payload) as response:
            if response.status_code >= 400:
                raise UpstreamRejected(response.status_code)
            created = int(self._clock())
            if not payload["stream"]:
                answer = await read_json(self._client, response)
                completion = to_openai_completion(answer, entry.id, created)
                yield Reply("application/json", _once(json.dumps(completion).encode()))
                return
            lines = ndjson(response, self._max_size)
            # The first line decides between a stream and a 502: garbage never starts one.
            first = await anext(lines, None)
            if first is None:
                raise UpstreamFailure("The model server's answer is empty.")
            yield Reply("text/event-stream", openai_chunks(first, lines, entry.id, created))

    # --- the raw Ollama API ------------------------------------------------------------

    def has_ollama(self) -> bool:
        return any(upstream.kind == "ollama" for upstream in self.catalog.upstreams)

    def ollama_upstream(self) -> Upstream:
        """``/ollama/…`` reaches the first configured Ollama server."""
        for upstream in self.catalog.upstreams:
            if upstream.kind == "ollama":
                return upstream
        raise GatewayError(
            "No Ollama server is configured.", code="ollama_disabled", status_code=404
        )

    async def ollama_model_id(self, name: object) -> str | None:
        """The catalog id of the first Ollama server's model ``name`` (it may be prefixed)."""
        upstream = self.ollama_upstream()
        for entry in (await self.catalog.models()).values():
            if entry.upstream == upstream and entry.upstream_id == name:
                return entry.id
        return None

    def ollama_relay(self, method: str, path: str, raw: bytes | None) -> UpstreamResponse:
        """Forward as is: the upstream's status, type and bytes, streamed."""
        upstream = self.ollama_upstream()

        @asynccontextmanager
        async def exchange() -> AsyncIterator[Reply]:
            async with self._open(upstream, method, path, raw=raw, accept="*/*") as response:
                media_type = response.headers.get("content-type", "")
                # Only the types Ollama speaks: an upstream's HTML must not render as ours.
                if not media_type.startswith(RELAYED_TYPES):
                    media_type = "application/octet-stream"
                yield Reply(
                    media_type, _relay(response, sse_errors=False), status=response.status_code
                )

        return UpstreamResponse(exchange)

    async def ollama_json(self, method: str, path: str, body: Any = None) -> Any:
        async with self._open(self.ollama_upstream(), method, path, body=body) as response:
            return await read_json(self._client, response)


def _check_completion(raw: bytes) -> None:
    try:
        answer = parse_json(raw)
    except ValueError:
        raise UpstreamFailure("The model server's answer is not valid JSON.") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        raise UpstreamFailure("The model server's answer is not in the expected format.")


def _policy_for(upstreams: tuple[Upstream, ...]) -> AddressPolicy:
    """Exactly the configured upstreams' origins: the gateway reaches nothing else."""
    return AddressPolicy.for_urls(upstream.base_url for upstream in upstreams)


def build_gateway(
    settings: Settings,
    db: Database,
    events: SecurityEvents,
    groups: GroupStore,
    *,
    clock: Callable[[], float],
) -> Gateway:
    """The gateway with its own outbound client, which may reach exactly the upstreams."""
    upstreams = upstreams_from(settings)
    client = OutboundClient(
        _policy_for(upstreams),
        timeouts=OutboundTimeouts(
            connect=settings.gateway.upstream_connect_timeout,
            read=settings.gateway.upstream_read_timeout,
            write=settings.gateway.upstream_read_timeout,
            pool=settings.gateway.upstream_connect_timeout,
            total=None,  # a generation may stream for long; the read timeout bounds silence
        ),
        max_response_bytes=settings.gateway.upstream_max_response_size,
    )
    catalog = ModelCatalog(
        upstreams,
        client,
        ttl=settings.gateway.model_list_cache_ttl,
        clock=clock,
    )
    access = ModelAccessControl(
        ModelAccessStore(db, groups, cache=settings.sees_every_write),
        bypass=settings.gateway.bypass_model_access_control,
    )
    return Gateway(
        catalog,
        access,
        client,
        events,
        max_size=settings.gateway.upstream_max_response_size,
        clock=clock,
    )
