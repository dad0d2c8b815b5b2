"""The connections of the outbound client: resolved, checked and pinned in one step.

The host is resolved once, every address it resolves to is checked against the
:class:`AddressPolicy`, and the connection goes to the checked address: the check and
the connect happen in one place (this httpcore network backend), so a DNS answer that
changes between the two (DNS rebinding) cannot slip in.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import anyio
import httpcore

from bastion.outbound.policy import AddressPolicy, IPAddress, host_address

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


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
