"""The one HTTP client for every server-side request (SPEC section 7).

The host is resolved once, every address it resolves to is checked against the
:class:`AddressPolicy`, and the connection goes to the checked address: the check and
the connect happen in one place (an httpcore network backend), so a DNS answer that
changes between the two (DNS rebinding) cannot slip in. The URL keeps its host name,
so the Host header, SNI and certificate verification are those of the name.
Redirects are followed by hand, each hop checked again; TLS is verified; every phase
has a timeout, the whole exchange a deadline, and the body a size cap.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore
import httpx

from bastion.errors import BastionError
from bastion.outbound.policy import AddressPolicy, IPAddress, UrlNotAllowed, host_address

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

# What httpx.AsyncClient sends by default (Bastion decodes only gzip and deflate).
_DEFAULT_HEADERS = httpx.Headers(
    {
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
        "Connection": "keep-alive",
        "User-Agent": f"python-httpx/{httpx.__version__}",
    }
)
_DROPPED_ON_READ = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class UpstreamTimeout(BastionError):
    status_code = 504
    code = "upstream_timeout"
    detail = "The remote server did not answer in time."


class UpstreamError(BastionError):
    status_code = 502
    code = "bad_upstream"
    detail = "The remote server could not be reached or gave an invalid answer."


class ResponseTooLarge(UpstreamError):
    code = "upstream_response_too_large"
    detail = "The remote server's answer is larger than allowed."


@dataclass(frozen=True, slots=True)
class OutboundTimeouts:
    """Seconds. ``total`` bounds the whole exchange, body included (``None``: no bound)."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0
    total: float | None = 300.0


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, from the system resolver, off the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = host_address(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects in one step, to the address it checked."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self.policy = policy
        self.resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int, limit: float | None) -> list[IPAddress]:
        literal = host_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                with anyio.fail_after(limit):
                    addresses = list(await self.resolver(host, port))
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} could not be resolved") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        # Every answer is checked, not only the first: a mixed answer is an attack.
        for address in addresses:
            self.policy.check_address(address, host, port)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await self.addresses(host, port, timeout):
            try:
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return _CoalescingStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable through the outbound client")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CoalescingStream(httpcore.AsyncNetworkStream):
    """A connection that sends a request's head and body in one segment.

    httpcore writes the head, then the body: two system calls and two segments where
    one would do. A write is held back (at most one, with its own timeout) until the
    next write, read or close, and sent with the next write or before the read. The
    readability check that vets a pooled connection before reuse polls the socket
    directly instead of going through anyio's attribute lookup.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")
        self._held = b""
        self._held_timeout: float | None = None

    async def read(
        self,
        max_bytes: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> bytes:
        if self._held:
            held, self._held = self._held, b""
            await self._inner.write(held, self._held_timeout)
        return await self._inner.read(max_bytes, timeout)

    async def write(
        self,
        buffer: bytes,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> None:
        if not self._held:
            self._held, self._held_timeout = buffer, timeout
            return
        held, self._held = self._held, b""
        await self._inner.write(held + buffer, timeout)

    async def aclose(self) -> None:
        self._held = b""
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _CoalescingStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Data, or the end of the stream, waiting on an idle connection: the server
            # closed it or broke the protocol, and it must not be reused.
            if self._socket is None or self._socket.fileno() < 0:
                return True
            poll = select.poll()
            poll.register(self._socket, select.POLLIN)
            return bool(poll.poll(0))
        return self._inner.get_extra_info(info)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool on the pinning backend."""

    def __init__(
        self, backend: PinnedBackend, *, ssl_context: ssl.SSLContext, limits: httpx.Limits
    ) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class _GuardedStream(httpx.AsyncByteStream):
    """A response body that stops at the size cap and the deadline, with our errors."""

    def __init__(
        self, inner: httpx.AsyncByteStream, max_bytes: int, deadline: float, read_timeout: float
    ) -> None:
        self._inner = inner
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        iterator = self._inner.__aiter__()
        while True:
            with _translated:
                try:
                    remaining = self._deadline - anyio.current_time()
                    if remaining > self._read_timeout:
                        # The read timeout fires first anyway: no cancel scope needed.
                        chunk = await iterator.__anext__()
                    else:
                        with anyio.fail_after(max(0.0, remaining)):
                            chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    return
            received += len(chunk)
            if received > self._max_bytes:
                raise ResponseTooLarge
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Translated:
    """httpx and timeout errors as Bastion errors with stable codes, nothing leaked.

    A plain class, not ``@contextmanager``: it wraps every chunk of a stream.
    """

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if exc is None or isinstance(exc, BastionError):
            return
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            raise UpstreamTimeout from exc
        if isinstance(exc, httpx.InvalidURL):
            raise UrlNotAllowed("The URL is not valid.") from exc
        if isinstance(exc, (httpx.HTTPError, httpx.StreamError)):
            raise UpstreamError from exc


_translated = _Translated()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class OutboundClient:
    """The safe client: ``await request(...)`` for a whole answer, ``stream(...)`` for SSE.

    Errors: :class:`UrlNotAllowed` (400) before anything is sent to a refused address,
    :class:`UpstreamTimeout` (504), :class:`UpstreamError` (502, including
    :class:`ResponseTooLarge`).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeouts: OutboundTimeouts = OutboundTimeouts(),
        max_response_bytes: int = 16 * 1024 * 1024,
        max_redirects: int = 5,
        verify_tls: bool | ssl.SSLContext = True,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.policy = policy
        self.timeouts = timeouts
        self.max_response_bytes = max_response_bytes
        self.max_redirects = max_redirects
        ssl_context = (
            verify_tls
            if isinstance(verify_tls, ssl.SSLContext)
            else httpx.create_ssl_context(verify=verify_tls, trust_env=False)
        )
        # Requests go to the transport itself: httpx.AsyncClient would add per-request
        # work Bastion has no use for, a cookie jar shared by every caller (a cookie set
        # for one user's fetch would travel with the next user's), and, unless told not
        # to, the HTTP(S)_PROXY of the environment, which would bypass the pinning.
        self._transport = _PinnedTransport(
            PinnedBackend(policy, resolver),
            ssl_context=ssl_context,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._timeout = httpx.Timeout(
            connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
        ).as_dict()

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _deadline(self) -> float:
        total = self.timeouts.total
        return float("inf") if total is None else anyio.current_time() + total

    def _build(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str] | None,
        *,
        content: bytes | None = None,
        json: Any = None,
    ) -> httpx.Request:
        merged = _DEFAULT_HEADERS.copy()
        if headers:
            merged.update(headers)
        extensions = {"timeout": self._timeout}
        return httpx.Request(
            method, url, headers=merged, content=content, json=json, extensions=extensions
        )

    async def _send(self, request: httpx.Request, deadline: float) -> httpx.Response:
        if deadline == float("inf"):
            response = await self._transport.handle_async_request(request)
        else:
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    async def _follow(
        self, request: httpx.Request, follow_redirects: bool, deadline: float
    ) -> httpx.Response:
        """Send, following redirects only if asked, each hop checked before it is sent."""
        for hop in range(self.max_redirects + 1):
            if hop:  # the first URL was checked by the caller, as it was written
                self.policy.check_url(request.url)
            response = await self._send(request, deadline)
            if not (follow_redirects and response.has_redirect_location):
                response.stream = _GuardedStream(
                    response.stream,  # type: ignore[arg-type]
                    self.max_response_bytes,
                    deadline,
                    self.timeouts.read,
                )
                return response
            await response.aclose()
            request = self._redirected(request, response)
        raise UpstreamError(
            "The remote server redirected too many times.", code="too_many_redirects"
        )

    def _redirected(self, request: httpx.Request, response: httpx.Response) -> httpx.Request:
        """The request a redirect asks for, as browsers make it (and httpx would)."""
        url = request.url.join(response.headers["location"])
        method = request.method
        if (response.status_code in (302, 303) and method != "HEAD") or (
            response.status_code == 301 and method == "POST"
        ):
            method = "GET"
        headers = httpx.Headers(request.headers)
        headers["host"] = url.netloc.decode("ascii")
        if _origin(url) != _origin(request.url):
            # Credentials meant for one origin never travel to another.
            headers.pop("authorization", None)
        if method == request.method:
            return httpx.Request(
                method, url, headers=headers, stream=request.stream, extensions=request.extensions
            )
        for name in ("content-length", "transfer-encoding", "content-type"):
            headers.pop(name, None)
        return httpx.Request(method, url, headers=headers, extensions=request.extensions)

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """The whole answer, read (and decompressed) under the size cap and the deadline."""
        async with self.stream(
            method,
            url,
            headers=headers,
            content=content,
            json=json,
            follow_redirects=follow_redirects,
        ) as response:
            body = bytearray()
            with _translated:
                # Decoded bytes are counted too: a small gzip body can inflate a thousandfold.
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        raise ResponseTooLarge
        result = httpx.Response(
            response.status_code,
            headers=[
                (name, value)
                for name, value in response.headers.multi_items()
                if name.lower() not in _DROPPED_ON_READ
            ],
            content=bytes(body),
            request=response.request,
        )
        result.read()
        return result

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        follow_redirects: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        """``async with client.stream(...) as response: async for chunk in
        response.aiter_raw()`` — the raw body is capped and bounded by the deadline."""
        target = self.policy.check_url(url)
        with _translated:
            request = self._build(method, target.url, headers, content=content, json=json)
            response = await self._follow(request, follow_redirects, self._deadline())
        try:
            yield response
        finally:
            await response.aclose()
