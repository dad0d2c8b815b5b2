"""Paths with control characters are refused before any route sees them.

A percent-encoded NUL or other control character (``/api/v1/chats/a%00b``) decodes into
the path that routes match and pass on as ids: PostgreSQL refuses NUL in text (a 500
where SQLite answers 404), file-system calls truncate at it, and log readers split lines
on the others. No route of Bastion takes such a path, so it is malformed and gets 400
``invalid_path``, the same on every database.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import BastionError
from bastion.http.responses import send_error

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidPath(BastionError):
    code = "invalid_path"
    detail = "The request path holds a control character."


class RequestTargetMiddleware:
    """Refuses HTTP requests whose decoded path holds a control character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL.search(scope["path"]) is not None:
            await send_error(send, InvalidPath(), close=True)
            return
        await self.app(scope, receive, send)
