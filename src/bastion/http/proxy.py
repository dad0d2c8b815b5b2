"""Client address, scheme and host from a trusted reverse proxy's ``X-Forwarded-*``.

Anyone can send ``X-Forwarded-For``; believing it from an arbitrary peer lets a client
pick the IP that rate limits, lockouts and the audit log see. So the headers are used
only when the direct peer is one of the configured proxies (``FORWARDED_ALLOW_IPS``),
and the client is the right-most address that is not itself a trusted proxy: entries
left of it were written by the client and prove nothing.
See https://developer.mozilla.org/docs/Web/HTTP/Headers/X-Forwarded-For#security_and_privacy_concerns
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.config.reader import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_XFF = b"x-forwarded-for"
_PROTO = b"x-forwarded-proto"
_HOST = b"x-forwarded-host"
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_FORWARDED_HOST = re.compile(
    rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"
)
_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}
# Set in the scope of every request: whether its direct peer is a trusted proxy (what the
# client address no longer says once rewritten). Trusted-header sign-in reads it.
TRUSTED_PEER = "bastion.trusted_peer"


def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an address (IPv6 may be bracketed); IPv4-mapped IPv6 as IPv4."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 (dual-stack sockets)
    return address


def _valid_host(value: str) -> str | None:
    host = value.lower()
    match = _FORWARDED_HOST.fullmatch(host)
    if match is None or len(host) > 255:
        return None
    port = match.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        return None
    if host.startswith("[") and parse_ip(host[: host.index("]") + 1]) is None:
        return None
    return host


class ProxyHeadersMiddleware:
    """Rewrites ``scope["client"]``, ``scope["scheme"]`` and ``Host`` from trusted proxies.

    ``trusted`` is the networks whose forwarding headers are believed, or ``"*"`` for any
    peer (only when the app cannot be reached except through the proxy). A Unix-socket
    peer has no address: it is trusted only with ``"*"`` or ``trust_unix_socket``. From
    an untrusted peer the headers stay in place, unused.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted: tuple[IPNetwork, ...] | Literal["*"],
        *,
        trust_unix_socket: bool = False,
    ) -> None:
        if trusted != "*" and not all(
            isinstance(net, ipaddress.IPv4Network | ipaddress.IPv6Network) for net in trusted
        ):
            raise TypeError("trusted must be a tuple of ip_network objects or '*'")
        self.app = app
        self.trust_all = trusted == "*"
        self.trust_unix_socket = trust_unix_socket or self.trust_all
        self.networks: tuple[IPNetwork, ...] = () if trusted == "*" else trusted
        # Peers are few (the proxies themselves) and a bounded cache keeps the scan off
        # the per-request path; an attacker churning addresses only evicts entries.
        self._peer_is_trusted = functools.lru_cache(maxsize=4096)(self._peer_check)

    def is_trusted(self, address: IPAddress) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        return self.trust_all or any(address in network for network in self.networks)

    def _peer_check(self, host: str) -> bool:
        address = parse_ip(host)
        return address is not None and self.is_trusted(address)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if client is None:
            trusted = self.trust_unix_socket
        else:
            trusted = self.trust_all or self._peer_is_trusted(client[0])
        scope[TRUSTED_PEER] = trusted
        if trusted:
            self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        forwarded_for: list[bytes] = []
        proto = host = None
        for name, value in scope["headers"]:
            if name == _XFF:
                forwarded_for.append(value)
            elif name == _PROTO:
                proto = value
            elif name == _HOST:
                host = value
        if forwarded_for:
            client = self._client(b",".join(forwarded_for).decode("latin-1"))
            if client is not None:
                scope["client"] = (client, 0)
        if proto is not None:
            # The right-most entry is the one our nearest (trusted) proxy wrote.
            scheme = proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
            if scheme in _WEBSOCKET_SCHEMES:
                websocket = scope["type"] == "websocket"
                scope["scheme"] = _WEBSOCKET_SCHEMES[scheme] if websocket else scheme
        if host is not None:
            forwarded_host = _valid_host(host.decode("latin-1").rsplit(",", 1)[-1].strip())
            if forwarded_host is not None:
                headers = [pair for pair in scope["headers"] if pair[0] != b"host"]
                headers.append((b"host", forwarded_host.encode("ascii")))
                scope["headers"] = headers

    def _client(self, forwarded_for: str) -> str | None:
        """The right-most untrusted address, or ``None`` when an entry is not an IP."""
        address = None
        for entry in reversed(forwarded_for.split(",")):
            address = parse_ip(entry.strip())
            if address is None:
                return None  # a garbled chain proves nothing: keep the peer's address
            if not self.is_trusted(address):
                return str(address)
        # Every hop is a trusted proxy: the left-most one is as far as the chain goes.
        return None if address is None else str(address)
