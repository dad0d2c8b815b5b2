"""Local model servers for the gateway tests and benchmark: OpenAI-compatible and Ollama.

Each is a real HTTP server (uvicorn in a thread of its own, on a free port of 127.0.0.1),
so Bastion reaches it through the outbound client exactly as it would a real one. The
model name picks the behaviour: ``gpt-normal``, ``llama-hanging``, … (see ``MODES``).
Every request is recorded, and so is every connection the client closed early.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

MODES = ("normal", "slow", "hanging", "dripping", "garbage", "oversized")
# Streams for the browser tests (OpenAI kind, ``paced=True``): words a pause apart, a few
# or without end, or the person's last message given back in a few pieces a pause apart.
PACED_MODES = ("paced", "endless", "echo")
ECHO_PIECES = 4
PACE_S = 0.15
WORDS = ("Hel", "lo", "!")
SLOW_S = 0.2
DRIP_S = 0.02
OVERSIZED_BYTES = 2 * 1024 * 1024


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeUpstream:
    """The OpenAI (``kind="openai"``, under ``/v1``) or Ollama (``kind="ollama"``) API."""

    kind: str
    requests: list[SeenRequest] = field(default_factory=list)
    closed_early: int = 0  # exchanges whose client went away before the answer ended
    closed: threading.Event = field(default_factory=threading.Event)
    paced: bool = False  # also list (and serve) the PACED_MODES

    @property
    def models(self) -> list[str]:
        if self.kind == "ollama":
            return [f"llama-{mode}" for mode in MODES]
        return [f"gpt-{mode}" for mode in (*MODES, *(PACED_MODES if self.paced else ()))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = json.loads(raw) if raw else None
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(SeenRequest(scope["method"], scope["path"], headers, body))
        reply = _Reply(send)
        answer = self._route(scope["method"], scope["path"], body, reply)
        if answer is None:
            await reply.json(404, {"error": "not found"})
            return
        # The client's disconnect cancels the answer, as a real server's would stop.
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            if not reply.finished:
                gone = True
                self.closed_early += 1
                self.closed.set()
                task.cancel()

        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.create_task(watch())
        try:
            await answer
        except asyncio.CancelledError:
            if not gone:
                raise
        finally:
            watcher.cancel()

    def _route(self, method: str, path: str, body: Any, reply: _Reply) -> Awaitable[None] | None:
        if self.kind == "openai":
            if (method, path) == ("GET", "/v1/models"):
                data = [
                    {"id": m, "object": "model", "created": 1, "owned_by": "x"} for m in self.models
                ]
                return reply.json(200, {"object": "list", "data": data})
            if (method, path) == ("POST", "/v1/chat/completions"):
                return self._chat(body, reply, _openai_stream, _openai_whole)
            return None
        routes: dict[tuple[str, str], Callable[[], Awaitable[None]]] = {
            ("GET", "/api/tags"): lambda: reply.json(200, {"models": self._tags()}),
            ("GET", "/api/ps"): lambda: reply.json(200, {"models": self._tags()}),
            ("GET", "/api/version"): lambda: reply.json(200, {"version": "0.0.0-fake"}),
            ("POST", "/api/show"): lambda: reply.json(200, {"details": {"family": "fake"}}),
            ("POST", "/api/pull"): lambda: reply.json(200, {"status": "success"}),
            ("DELETE", "/api/delete"): lambda: reply.json(200, {}),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if (method, path) in {("POST", "/api/chat"), ("POST", "/api/generate")}:
            return self._chat(body, reply, _ollama_stream, _ollama_whole)
        return None

    def _tags(self) -> list[dict[str, Any]]:
        return [{"name": m, "model": m, "modified_at": "2026-01-01T00:00:00Z"} for m in self.models]

    async def _chat(
        self,
        body: dict[str, Any],
        reply: _Reply,
        stream: Callable[[str, str], list[bytes]],
        whole: Callable[[str, str], dict[str, Any]],
    ) -> None:
        model = str(body.get("model", ""))
        mode = model.rsplit("-", 1)[-1]
        streaming = body.get("stream", self.kind == "ollama")
        media = "text/event-stream" if self.kind == "openai" else "application/x-ndjson"
        if mode == "slow":
            await asyncio.sleep(SLOW_S)
        if mode == "hanging":
            await asyncio.Event().wait()
        if mode == "garbage":
            await reply.raw(200, "text/html", [b"<html>not what you asked for"])
            return
        if mode == "dripping":
            await reply.start(200, media if streaming else "application/json")
            while True:
                await reply.chunk(b'{"x' if not streaming else stream(model, "drip")[0])
                await asyncio.sleep(DRIP_S)
        if self.paced and mode in PACED_MODES and streaming and self.kind == "openai":
            await reply.start(200, media)
            words: Iterable[str]
            if mode == "echo":
                said = _last_user_text(body)
                size = -(-len(said) // ECHO_PIECES) or 1
                words = [said[at : at + size] for at in range(0, len(said), size)]
            elif mode == "paced":
                words = WORDS
            else:
                words = (f"word{n} " for n in range(10**9))
            await reply.chunk(_openai_chunk(model, {"role": "assistant", "content": ""}, None))
            for word in words:
                await reply.chunk(_openai_chunk(model, {"content": word}, None))
                await asyncio.sleep(PACE_S)
            await reply.raw_end([_openai_chunk(model, {}, "stop"), b"data: [DONE]\n\n"])
            return
        text = "x" * OVERSIZED_BYTES if mode == "oversized" else "".join(WORDS)
        if streaming:
            await reply.raw(200, media, stream(model, text))
        else:
            await reply.json(200, whole(model, text))


def _last_user_text(body: dict[str, Any]) -> str:
    said = [m.get("content") for m in body.get("messages", []) if m.get("role") == "user"]
    return said[-1] if said and isinstance(said[-1], str) else ""


def _split(text: str) -> list[str]:
    return list(WORDS) if text == "".join(WORDS) else [text]


def _openai_chunk(model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _openai_stream(model: str, text: str) -> list[bytes]:
    chunks = [_openai_chunk(model, {"role": "assistant", "content": ""}, None)]
    chunks += [_openai_chunk(model, {"content": part}, None) for part in _split(text)]
    return [*chunks, _openai_chunk(model, {}, "stop"), b"data: [DONE]\n\n"]


def _openai_whole(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }


def _ollama_line(model: str, content: str, done: bool) -> bytes:
    line: dict[str, Any] = {
        "model": model,
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "response": content,
        "done": done,
    }
    if done:
        line |= {"done_reason": "stop", "prompt_eval_count": 5, "eval_count": 3}
    return json.dumps(line).encode() + b"\n"


def _ollama_stream(model: str, text: str) -> list[bytes]:
    return [_ollama_line(model, part, False) for part in _split(text)] + [
        _ollama_line(model, "", True)
    ]


def _ollama_whole(model: str, text: str) -> dict[str, Any]:
    return json.loads(_ollama_line(model, text, True))  # type: ignore[no-any-return]


class _Reply:
    def __init__(self, send: Send) -> None:
        self._send = send
        self.finished = False

    async def start(self, status: int, media_type: str) -> None:
        headers = [(b"content-type", media_type.encode())]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def chunk(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def raw(self, status: int, media_type: str, chunks: list[bytes]) -> None:
        await self.start(status, media_type)
        await self.raw_end(chunks)

    async def raw_end(self, chunks: list[bytes]) -> None:
        for data in chunks:
            await self.chunk(data)
        self.finished = True
        await self._send({"type": "http.response.body", "body": b""})

    async def json(self, status: int, value: Any) -> None:
        await self.raw(status, "application/json", [json.dumps(value).encode()])


@contextmanager
def serve(
    app: ASGIApp,
    *,
    lifespan: str = "off",
    tls: tuple[str, str] | None = None,
    sock: socket.socket | None = None,
) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free port; yields ``http://127.0.0.1:PORT``
    (``https://`` with ``tls``, the certificate chain's and the key's file names).

    ``sock``: a socket already bound (``bound_socket()``), for an app that must know its
    own address before it starts."""
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        ws="none",
        http="h11",
        ssl_certfile=None if tls is None else tls[0],
        ssl_keyfile=None if tls is None else tls[1],
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the test server did not start")
        yield f"{'http' if tls is None else 'https'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def bound_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1, for ``serve(sock=...)``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def openai_app() -> FakeUpstream:
    """For ``uvicorn --factory tests.fake_upstreams:openai_app`` (the benchmark)."""
    return FakeUpstream("openai")


def paced_openai_app() -> FakeUpstream:
    """The same with the browser tests' paced streams (``bench/ui_page.py``)."""
    return FakeUpstream("openai", paced=True)
