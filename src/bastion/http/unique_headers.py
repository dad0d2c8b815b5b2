"""Requests carrying a credential header more than once are refused before anything reads it.

With two ``Authorization`` headers, a proxy in front may check or log one while Bastion
authenticates with the other (``Basic`` for the proxy, ``Bearer`` for the app): the two
parties disagree on who is calling. RFC 9110 section 5.3 forbids repeating a header that
is not a list, so such a request is malformed and gets 400 ``duplicate_header``.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import BastionError
from bastion.http.responses import send_error


class DuplicateHeader(BastionError):
    code = "duplicate_header"
    detail = "The request repeats a header that must appear once."


class UniqueHeadersMiddleware:
    """Refuses HTTP requests in which any of ``names`` appears more than once."""

    def __init__(self, app: ASGIApp, names: Iterable[str] = ("authorization",)) -> None:
        self.app = app
        self.names = frozenset(name.lower().encode("latin-1") for name in names)
        if not self.names:
            raise ValueError("give at least one header name")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = self.names
            seen: set[bytes] = set()
            for name, _ in scope["headers"]:
                if name in names:
                    if name in seen:
                        header = name.decode("latin-1").title()
                        await send_error(
                            send,
                            DuplicateHeader(f"The request repeats the {header} header."),
                            close=True,
                        )
                        return
                    seen.add(name)
        await self.app(scope, receive, send)
