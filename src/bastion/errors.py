"""One root exception for everything Bastion refuses, each with a stable code.

A client sees ``{"detail": "...", "code": "..."}`` and never a traceback; the code is
what programs match on, the detail is for people. ``render`` writes that body, the one
way every layer does (the app's handlers, the raw-ASGI middleware, the gateway's relay).
"""

from __future__ import annotations

import json
from typing import Any


class BastionError(Exception):
    """A refusal with an HTTP status and a stable, machine-readable code."""

    status_code: int = 400
    code: str = "bad_request"
    detail: str = "The request was refused."

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if detail is not None:
            self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        """What the client reads; subclasses add fields, never remove these two."""
        return {"detail": self.detail, "code": self.code}


def render(error: BastionError) -> bytes:
    """``error``'s JSON body: compact UTF-8, byte for byte what Starlette's JSONResponse
    writes, so a client sees one encoding whichever layer refused."""
    return json.dumps(error.body(), ensure_ascii=False, separators=(",", ":")).encode()


class NotAuthenticated(BastionError):
    status_code = 401
    code = "not_authenticated"
    detail = "Authentication required."


class InvalidCredentials(BastionError):
    # One message for unknown e-mail and wrong password: no hint whether an account exists.
    status_code = 400
    code = "invalid_credentials"
    detail = "The e-mail or password is incorrect."


class Forbidden(BastionError):
    status_code = 403
    code = "forbidden"
    detail = "You do not have permission to do this."


class NotFound(BastionError):
    status_code = 404
    code = "not_found"
    detail = "Not found."


class Conflict(BastionError):
    status_code = 409
    code = "conflict"
    detail = "The request conflicts with the current state."


class PayloadTooLarge(BastionError):
    status_code = 413
    code = "payload_too_large"
    detail = "The request body is too large."


class UnsupportedMediaType(BastionError):
    status_code = 415
    code = "unsupported_media_type"
    detail = "Send the body as application/json."


class InternalError(BastionError):
    """What a client sees of a bug: nothing of it. The traceback goes to the log."""

    status_code = 500
    code = "internal_error"
    detail = "Internal server error."
