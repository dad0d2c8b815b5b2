"""Tiny HTTP servers on 127.0.0.1 for the outbound tests: a canary, redirectors, pages.

The canary counts every TCP connection it accepts, before reading a byte: an SSRF test
passes only if it stays at zero.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]


Handler = Callable[[SeenRequest, asyncio.StreamWriter], Awaitable[None]]


async def respond(
    writer: asyncio.StreamWriter,
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    head = {"Content-Type": "text/plain", "Content-Length": str(len(body)), **(headers or {})}
    lines = [f"HTTP/1.1 {status} X"] + [f"{name}: {value}" for name, value in head.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def redirect_to(location: str, status: int = 302) -> Handler:
    async def handler(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, status, b"", {"Location": location})

    return handler


def page(body: bytes, content_type: str = "text/plain", status: int = 200) -> Handler:
    async def handler(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, status, body, {"Content-Type": content_type})

    return handler


@dataclass
class WebServer:
    handler: Handler
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> WebServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                seen = SeenRequest(method, target, headers)
                self.requests.append(seen)
                await self.handler(seen, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


ServerFactory = Callable[..., Awaitable[WebServer]]


@pytest.fixture
async def web_server() -> AsyncIterator[ServerFactory]:
    """``await web_server(handler, tls=None)``: a started server, stopped after the test."""
    started: list[WebServer] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> WebServer:
        server = await WebServer(handler, tls).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def canary(web_server: ServerFactory) -> WebServer:
    """A server that nothing may reach: every test asserts ``canary.connections == 0``."""
    return await web_server(page(b"canary"))


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and a certificate for ``upstream.test`` only, made with openssl."""
    directory = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=upstream.test",
    )  # fmt: skip
    (directory / "ext.cnf").write_text(
        "subjectAltName=DNS:upstream.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
    )  # fmt: skip
    return Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
