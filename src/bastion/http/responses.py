"""JSON error responses sent from raw ASGI, for middleware that refuses before the app.

The body is the same ``{"detail": "...", "code": "..."}`` that the app's own error
handlers send, so a client sees one error shape whichever layer refused it.
"""

from __future__ import annotations

import json

from starlette.types import Send

from bastion.errors import BastionError


def error_body(error: BastionError) -> bytes:
    """The JSON body for ``error``: detail for people, a stable code for programs."""
    # json.dumps escapes non-ASCII, so the body is plain ASCII whatever the detail holds.
    body = json.dumps({"detail": error.detail, "code": error.code}, separators=(",", ":"))
    return body.encode("ascii")


async def send_error(send: Send, error: BastionError, *, close: bool = False) -> None:
    """Answer the request with ``error`` as JSON.

    ``close`` adds ``Connection: close``, for refusals that leave an unread request
    body on the connection: the server must not read the next request out of it.
    """
    body = error_body(error)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if close:
        headers.append((b"connection", b"close"))
    if error.headers:
        headers.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in error.headers.items()
        )
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
