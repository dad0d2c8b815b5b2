"""The one HTTP client for every server-side request (SPEC section 7).

Connections are pinned to the addresses the :class:`AddressPolicy` checked
(:mod:`bastion.outbound.pinning`); the URL keeps its host name, so the Host header, SNI
and certificate verification are those of the name. Redirects are followed by hand,
each hop checked again; TLS is verified; every phase has a timeout, the whole exchange
a deadline, and the body a size cap.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from bastion.errors import BastionError
from bastion.outbound.pinning import PinnedBackend, Resolver, system_resolver
from bastion.outbound.policy import AddressPolicy, UrlNotAllowed
from bastion.outbound.transport import HTTPCORE_ERRORS, HTTPCORE_TIMEOUT, PinnedTransport

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
    """httpx, httpcore and timeout errors as Bastion errors with stable codes, nothing leaked.

    A plain class, not ``@contextmanager``: it wraps every chunk of a stream.
    """

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if exc is None or isinstance(exc, BastionError):
            return
        if isinstance(exc, _TIMEOUTS):
            raise UpstreamTimeout from exc
        if isinstance(exc, httpx.InvalidURL):
            raise UrlNotAllowed("The URL is not valid.") from exc
        if isinstance(exc, _FAILURES):
            raise UpstreamError from exc


_TIMEOUTS = (httpx.TimeoutException, HTTPCORE_TIMEOUT, TimeoutError)
_FAILURES = (httpx.HTTPError, httpx.StreamError, *HTTPCORE_ERRORS)
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
        self._backend = PinnedBackend(policy, resolver)
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
        self._transport = PinnedTransport(
            self._backend,
            ssl_context=ssl_context,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._timeout = httpx.Timeout(
            connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
        ).as_dict()

    async def aclose(self) -> None:
        await self._transport.aclose()

    def set_policy(self, policy: AddressPolicy) -> None:
        """What the client may reach from its next request on (upstreams changed at run
        time): each URL and each new connection is checked against it."""
        self.policy = policy
        self._backend.policy = policy

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
            body = await self.read(response)
        result = httpx.Response(
            response.status_code,
            headers=[
                (name, value)
                for name, value in response.headers.multi_items()
                if name.lower() not in _DROPPED_ON_READ
            ],
            content=body,
            request=response.request,
        )
        result.read()
        return result

    async def read(self, response: httpx.Response) -> bytes:
        """The whole body of a response from :meth:`stream`, decompressed, under the cap."""
        body = bytearray()
        with _translated:
            # Decoded bytes are counted too: a small gzip body can inflate a thousandfold.
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise ResponseTooLarge
        return bytes(body)

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
