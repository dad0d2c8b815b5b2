"""A cap on request bodies, enforced before and while the body is read.

Without it, one client can make a worker read (and a JSON parser hold) gigabytes. A
declared ``Content-Length`` over the cap is refused before the app runs, without reading
a byte; a body of unknown length is counted as it streams in and refused as soon as it
passes the cap. Nothing is buffered here. A malformed or ambiguous ``Content-Length``
is refused outright: two parties reading different lengths is how requests are smuggled.
See https://cheatsheetseries.owasp.org/cheatsheets/Denial_of_Service_Cheat_Sheet.html
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.errors import BastionError, PayloadTooLarge
from bastion.http.responses import send_error

_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"


class _BodyTooLarge(PayloadTooLarge):
    """Raised into the app by ``receive`` once the body passes the cap."""


class _BadContentLength(BastionError):
    code = "invalid_content_length"
    detail = "The Content-Length header is invalid or ambiguous."


def _declared_length(scope: Scope) -> int | None:
    """The declared body length; ``None`` when there is none; raises on a bad one."""
    values: list[bytes] = []
    chunked = False
    for name, value in scope["headers"]:
        if name == _CONTENT_LENGTH:
            values.extend(value.split(b","))  # "10, 10" is a legal repeated list
        elif name == _TRANSFER_ENCODING:
            chunked = True
    if not values:
        return None
    lengths = {value.strip() for value in values}
    if chunked or len(lengths) != 1:
        raise _BadContentLength()  # CL with TE, or two lengths: a smuggling attempt
    (length,) = lengths
    if not length.isdigit():
        raise _BadContentLength()  # empty, negative, signed, or not a number
    # Far beyond any cap, and int() of a huge digit string is itself costly.
    return int(length) if len(length) <= 18 else 10**18


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_size`` bytes with 413 ``payload_too_large``.

    ``overrides`` maps path prefixes (matched segment-wise: ``/api/v1/files`` covers
    ``/api/v1/files/x`` but not ``/api/v1/filesx``) to their own cap; the longest
    matching prefix wins. A cap may be an async function, awaited at each request to its
    paths, for one that changes while the server runs.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_size: int,
        *,
        overrides: Mapping[str, int | Callable[[], Awaitable[int]]] | None = None,
    ) -> None:
        caps = {"": max_size, **(overrides or {})}
        for prefix, cap in caps.items():
            if callable(cap):
                pass
            elif isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
                raise ValueError(f"the body size cap for {prefix or 'all paths'!r} must be >= 0")
            if prefix and not prefix.startswith("/"):
                raise ValueError(f"the override prefix {prefix!r} must be an absolute path")
        self.app = app
        self.max_size = max_size
        # Longest first, so the most specific prefix wins; "" (everything) comes last.
        self._overrides = tuple(
            (prefix.rstrip("/"), prefix.rstrip("/") + "/", cap)
            for prefix, cap in sorted(
                (overrides or {}).items(), key=lambda item: len(item[0].rstrip("/")), reverse=True
            )
        )

    async def cap_for(self, path: str) -> int:
        """The cap that applies to ``path``."""
        for prefix, prefix_slash, cap in self._overrides:
            if path == prefix or path.startswith(prefix_slash):
                return await cap() if callable(cap) else cap
        return self.max_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = await self.cap_for(scope["path"]) if self._overrides else self.max_size
        try:
            declared = _declared_length(scope)
        except _BadContentLength as exc:
            await send_error(send, exc, close=True)
            return
        if declared is not None and declared > cap:
            await send_error(send, self._too_large(cap), close=True)
            return

        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise self._too_large(cap)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise self._too_large(cap)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's reaction to the refusal: our 413 is sent instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await send_error(send, self._too_large(cap), close=True)

    @staticmethod
    def _too_large(cap: int) -> _BodyTooLarge:
        return _BodyTooLarge(f"The request body is larger than the limit of {cap} bytes.")
