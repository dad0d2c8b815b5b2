"""Every error leaves as JSON ``{"detail", "code"}``: never a traceback, never the input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from bastion.errors import BastionError, InternalError, render
from bastion.jsondata import InvalidJSON, decode_error_detail

log = logging.getLogger("bastion")

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class RequestInvalid(BastionError):
    """A body or query that does not fit the route's form; says where, never the input."""

    status_code = 422
    code = "validation_error"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        fields = ", ".join(".".join(problem["loc"][1:]) or "body" for problem in problems)
        super().__init__(f"Invalid request: {fields}.")
        self.problems = problems

    def body(self) -> dict[str, Any]:
        return {**super().body(), "errors": self.problems}


def _respond(error: BastionError) -> Response:
    return Response(
        render(error),
        status_code=error.status_code,
        media_type="application/json",
        headers=error.headers,
    )


async def _bastion_error(_: Request, exc: Exception) -> Response:
    # Gateway errors too: their body() adds OpenAI's {"error": {...}}, which its clients read.
    assert isinstance(exc, BastionError)
    return _respond(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    for error in exc.errors():
        if error.get("type") == "json_invalid" and isinstance(exc.body, str):
            # FastAPI's own body parsing: say what is wrong and where, not a bare offset.
            position = error.get("loc", ("body", 0))[-1]
            message = str(error.get("ctx", {}).get("error", "JSON decode error"))
            return _respond(InvalidJSON(decode_error_detail(exc.body, int(position), message)))
    # Pydantic's errors echo the input; the input may be a password, so only say where.
    problems = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    return _respond(RequestInvalid(problems))


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
    error = BastionError(
        detail,
        code=_CODES.get(exc.status_code, "http_error"),
        status_code=exc.status_code,
        headers=dict(exc.headers) if exc.headers else None,
    )
    return _respond(error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(InternalError())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BastionError, _bastion_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
