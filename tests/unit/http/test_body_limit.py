from __future__ import annotations

import json

import httpx
import pytest
from fastapi import Body, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.errors import PayloadTooLarge
from bastion.http.body_limit import BodySizeLimitMiddleware
from bastion.http.responses import send_error

MB = 1024 * 1024
HUNDRED_MB = 100 * MB
CHUNK = 64 * 1024
CAP = MB


class CountingBody:
    """A request body of ``size`` bytes that records how much of it was pulled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    def __aiter__(self) -> CountingBody:
        return self

    async def __anext__(self) -> bytes:
        if self.pulled >= self.size:
            raise StopAsyncIteration
        chunk = b"x" * min(CHUNK, self.size - self.pulled)
        self.pulled += len(chunk)
        return chunk


class Recorder:
    """A Starlette app that reads the whole body and says how much it got."""

    def __init__(self) -> None:
        self.calls = 0
        self.app = Starlette(routes=[Route("/{path:path}", self.upload, methods=["POST"])])

    async def upload(self, request: Request) -> Response:
        self.calls += 1
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
        return JSONResponse({"received": received})


async def post(
    app: ASGIApp, body: CountingBody | bytes, path: str = "/upload", **headers: str
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post(path, content=body, headers=headers)


def too_large(cap: int = CAP) -> dict[str, str]:
    return {
        "detail": f"The request body is larger than the limit of {cap} bytes.",
        "code": "payload_too_large",
    }


async def test_a_declared_100_mb_body_is_refused_before_the_app_runs() -> None:
    recorder = Recorder()
    body = CountingBody(HUNDRED_MB)

    response = await post(
        BodySizeLimitMiddleware(recorder.app, CAP), body, **{"Content-Length": str(HUNDRED_MB)}
    )

    assert response.status_code == 413
    assert response.json() == too_large()
    assert response.headers["content-type"] == "application/json"
    assert response.headers["connection"] == "close"
    assert recorder.calls == 0
    assert body.pulled <= CHUNK


async def test_a_chunked_100_mb_body_is_refused_once_it_passes_the_cap() -> None:
    recorder = Recorder()
    body = CountingBody(HUNDRED_MB)

    response = await post(BodySizeLimitMiddleware(recorder.app, CAP), body)

    assert response.status_code == 413
    assert response.json() == too_large()
    assert recorder.calls == 1
    assert body.pulled <= CAP + CHUNK  # far less than 100 MB


async def test_a_chunked_body_over_the_cap_is_413_even_when_fastapi_reads_it() -> None:
    # FastAPI turns an error while reading the body into a 400; the client still gets 413.
    app = FastAPI()

    @app.post("/api/echo")
    async def echo(payload: dict[str, str] = Body()) -> dict[str, str]:  # noqa: B008
        return payload

    body = CountingBody(HUNDRED_MB)
    response = await post(BodySizeLimitMiddleware(app, CAP), body, path="/api/echo")

    assert response.status_code == 413
    assert response.json() == too_large()
    assert body.pulled <= CAP + CHUNK


@pytest.mark.parametrize("size", [0, 1, CAP - 1, CAP])
@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_up_to_the_cap_reaches_the_app_whole(size: int, declared: bool) -> None:
    recorder = Recorder()
    body: CountingBody | bytes = b"x" * size if declared else CountingBody(size)

    response = await post(BodySizeLimitMiddleware(recorder.app, CAP), body)

    assert response.status_code == 200
    assert response.json() == {"received": size}


async def test_one_byte_over_the_cap_is_refused() -> None:
    recorder = Recorder()

    declared = await post(BodySizeLimitMiddleware(recorder.app, CAP), b"x" * (CAP + 1))
    streamed = await post(BodySizeLimitMiddleware(recorder.app, CAP), CountingBody(CAP + 1))

    assert (declared.status_code, streamed.status_code) == (413, 413)


class OkApp:
    """Reads the body, answers 200, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(
    headers: list[tuple[bytes, bytes]],
    path: str = "/upload",
    max_size: int = CAP,
    overrides: dict[str, int] | None = None,
) -> tuple[list[Message], int]:
    """Drive the middleware with raw headers; return what it sent and the app's calls."""
    app = OkApp()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"12345", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    await BodySizeLimitMiddleware(app, max_size, overrides=overrides)(scope, receive, send)
    return sent, app.calls


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"abc")],
        [(b"content-length", b"-1")],
        [(b"content-length", b"+5")],
        [(b"content-length", b"5.0")],
        [(b"content-length", b"")],
        [(b"content-length", b"0x10")],
        [(b"content-length", b"5"), (b"content-length", b"6")],
        [(b"content-length", b"5, 6")],
        [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
    ],
)
async def test_a_malformed_or_ambiguous_content_length_is_400(
    headers: list[tuple[bytes, bytes]],
) -> None:
    sent, app_calls = await call(headers)

    assert app_calls == 0
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {
        "detail": "The Content-Length header is invalid or ambiguous.",
        "code": "invalid_content_length",
    }


@pytest.mark.parametrize(
    "headers",
    [[(b"content-length", b"5"), (b"content-length", b"5")], [(b"content-length", b" 5 , 5")]],
)
async def test_a_repeated_identical_content_length_is_accepted(
    headers: list[tuple[bytes, bytes]],
) -> None:
    sent, app_calls = await call(headers)

    assert (app_calls, sent[0]["status"]) == (1, 200)


async def test_an_absurdly_long_content_length_is_413() -> None:
    sent, app_calls = await call([(b"content-length", b"9" * 5000)])

    assert (app_calls, sent[0]["status"]) == (0, 413)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/files", 200),
        ("/api/v1/files/", 200),
        ("/api/v1/files/upload", 200),
        ("/api/v1/files/big/x", 413),  # a longer prefix with a smaller cap wins
        ("/api/v1/filesx", 413),
        ("/api/v1/chats", 413),
    ],
)
async def test_a_path_prefix_override_sets_its_own_cap(path: str, status: int) -> None:
    overrides = {"/api/v1/files/": 100, "/api/v1/files/big": 20}

    sent, _ = await call([(b"content-length", b"50")], path, max_size=10, overrides=overrides)

    assert sent[0]["status"] == status


async def test_a_cap_given_as_a_function_is_awaited_at_each_request() -> None:
    cap = [100]

    async def current() -> int:
        return cap[0]

    middleware = BodySizeLimitMiddleware(OkApp(), 10, overrides={"/api/v1/files": current})
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/files",
        "headers": [(b"content-length", b"50")],
    }
    statuses = []
    for cap[0] in (100, 40):  # the second as changed while the server runs
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"x" * 50, "more_body": False}

        async def send(message: Message, into: list[Message] = sent) -> None:
            into.append(message)

        await middleware(scope, receive, send)
        statuses.append(sent[0]["status"])
    assert statuses == [200, 413]


async def test_exceeding_after_the_response_started_lets_the_error_through() -> None:
    async def respond_then_read(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" * 20, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with pytest.raises(PayloadTooLarge):
        await BodySizeLimitMiddleware(respond_then_read, 10)(scope, receive, send)
    assert [message["status"] for message in sent] == [200]


async def test_non_http_scopes_pass_through() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        return None

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"content-length", b"x")]}
    await BodySizeLimitMiddleware(app, 0)(scope, receive, send)

    assert scopes == [scope]


@pytest.mark.parametrize(
    ("max_size", "overrides"),
    [(-1, None), (True, None), (1.5, None), (10, {"/files": -1}), (10, {"files": 100})],
)
def test_invalid_caps_are_refused_at_start(max_size: object, overrides: object) -> None:
    with pytest.raises(ValueError):
        BodySizeLimitMiddleware(OkApp(), max_size, overrides=overrides)  # type: ignore[arg-type]


async def test_send_error_sends_the_json_error_shape() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await send_error(send, PayloadTooLarge(headers={"Retry-After": "5"}))

    body = b'{"detail":"The request body is too large.","code":"payload_too_large"}'
    assert sent == [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"5"),
            ],
        },
        {"type": "http.response.body", "body": body, "more_body": False},
    ]
