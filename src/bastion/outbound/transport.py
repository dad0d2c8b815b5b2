"""An httpcore connection pool on the pinning backend, behind httpx's transport interface.

Built only through public API: httpcore's pool takes the network backend as an
argument, and httpx's ``AsyncBaseTransport`` is the interface a transport implements.
httpx's own ``AsyncHTTPTransport`` builds its pool on httpcore's default backend, which
connects to whatever the name resolves to at that moment: no pinning.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable, AsyncIterator

import httpcore
import httpx

# httpcore's errors, which this transport lets through as they are: the outbound client
# translates them, with httpx's, into its own (TimeoutException is the rest's sibling).
HTTPCORE_TIMEOUT = httpcore.TimeoutException
HTTPCORE_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class PinnedTransport(httpx.AsyncBaseTransport):
    """Sends an httpx request through the pool; the response body streams from it.

    The errors are httpcore's (:data:`HTTPCORE_TIMEOUT`, :data:`HTTPCORE_ERRORS`) and the
    policy's, not httpx's: only the outbound client sends through this transport, and it
    translates each of them once.
    """

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        response = await self._pool.handle_async_request(
            httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        )
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PoolStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _PoolStream(httpx.AsyncByteStream):
    """The pool's response body; closing it hands the connection back to the pool."""

    def __init__(self, inner: AsyncIterable[bytes]) -> None:
        self._inner = inner

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The pool's own iterator, not a generator around it: one layer less per chunk.
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()
