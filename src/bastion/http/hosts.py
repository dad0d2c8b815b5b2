"""Only the configured ``Host`` values are answered, and no redirect names the Host.

The ``Host`` header is chosen by the client. A response that builds an absolute URL from
it (Starlette's trailing-slash redirect does) sends a victim, or a cache in front, to the
attacker's host: https://portswigger.net/web-security/host-header. So requests for a host
not in ``ALLOWED_HOSTS`` are refused, and a redirect to the request's own host is sent as
a relative path, so it never depends on what the client wrote there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.errors import BastionError
from bastion.http.responses import send_error

_HOST = b"host"
_LOCATION = b"location"
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_PATTERN = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\]")


class HostNotAllowed(BastionError):
    code = "host_not_allowed"
    detail = "This server does not answer for that host name."


def validate_host_patterns(entries: Iterable[str]) -> tuple[str, ...]:
    """Lower-case host names, ``*.domain`` wildcards or ``*`` alone; ValueError otherwise."""
    patterns = tuple(entry.strip().lower() for entry in entries if entry.strip())
    if not patterns:
        raise ValueError("is empty")
    if "*" in patterns:
        if len(patterns) > 1:
            raise ValueError("mixes * with host names")
        return patterns
    for pattern in patterns:
        if not _PATTERN.fullmatch(pattern):
            raise ValueError(f"{pattern!r} is not a host name or *.domain")
    return patterns


def _host_name(value: bytes) -> str:
    """The host without its port, lower case (``[::1]:80`` -> ``[::1]``)."""
    host = value.decode("latin-1").lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


class AllowedHostsMiddleware:
    """Refuses requests whose ``Host`` is not allowed with 400 ``host_not_allowed``.

    ``allowed_hosts`` holds exact names, ``*.example.com`` (any subdomain, not the domain
    itself) or ``("*",)`` for any host. With any host allowed, redirects are still made
    relative.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ("*",)) -> None:
        patterns = validate_host_patterns(allowed_hosts)
        self.app = app
        self.allow_any = patterns == ("*",)
        self._exact = frozenset(p for p in patterns if not p.startswith("*."))
        self._suffixes = tuple(p[1:] for p in patterns if p.startswith("*."))

    def is_allowed(self, host: str) -> bool:
        return host in self._exact or (
            bool(self._suffixes) and host.endswith(self._suffixes) and "[" not in host
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = b""
        for name, value in scope["headers"]:
            if name == _HOST:
                host = value
                break
        if not self.allow_any and not self.is_allowed(_host_name(host)):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await send_error(send, HostNotAllowed())
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The origin a redirect built from the request would start with (scheme + Host).
        own = f"{scope.get('scheme', 'http')}://".encode() + host

        async def send_relative_redirects(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                message = dict(message)
                message["headers"] = [
                    (name, _relative(value, own) if name.lower() == _LOCATION else value)
                    for name, value in message.get("headers", ())
                ]
            await send(message)

        await self.app(scope, receive, send_relative_redirects)


def _relative(location: bytes, own: bytes) -> bytes:
    """``location`` without the request's own scheme and host; other URLs unchanged."""
    if location.lower().startswith(own.lower()):
        rest = location[len(own) :]
        if rest.startswith((b"/", b"?")) or not rest:
            # "//evil" would be read as another host: keep a single leading slash.
            return b"/" + rest.lstrip(b"/") if rest.startswith(b"/") else b"/" + rest
    return location
