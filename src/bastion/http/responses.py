"""JSON error responses sent from raw ASGI, for middleware that refuses before the app.

The body is ``bastion.errors.render``'s, as the app's own error handlers send it, so a
client sees one error shape whichever layer refused it.
"""

from __future__ import annotations

from starlette.types import Send

from bastion.errors import BastionError, render


async def send_error(send: Send, error: BastionError, *, close: bool = False) -> None:
    """Answer the request with ``error`` as JSON.

    ``close`` adds ``Connection: close``, for refusals that leave an unread request
    body on the connection: the server must not read the next request out of it.
    """
    body = render(error)
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
