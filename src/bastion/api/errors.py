"""Every error leaves as JSON ``{"detail", "code"}``: never a traceback, never the input."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from bastion.errors import BastionError
from bastion.gateway.upstreams import GatewayError
from bastion.jsondata import decode_error_detail

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


def _json(status: int, detail: str, code: str, **extra: object) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status)


async def _bastion_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BastionError)
    response = _json(exc.status_code, exc.detail, exc.code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Pydantic's errors echo the input; the input may be a password, so only say where.
    problems = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    for error in exc.errors():
        if error.get("type") == "json_invalid" and isinstance(exc.body, str):
            # FastAPI's own body parsing: say what is wrong and where, not a bare offset.
            position = error.get("loc", ("body", 0))[-1]
            message = str(error.get("ctx", {}).get("error", "JSON decode error"))
            detail = decode_error_detail(exc.body, int(position), message)
            return _json(400, detail, "invalid_json")
    fields = ", ".join(".".join(problem["loc"][1:]) or "body" for problem in problems)
    return _json(422, f"Invalid request: {fields}.", "validation_error", errors=problems)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
    response = _json(exc.status_code, detail, code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _gateway_error(_: Request, exc: Exception) -> JSONResponse:
    """Gateway errors in the OpenAI format, which its clients read, with detail and code."""
    assert isinstance(exc, GatewayError)
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, "Internal server error.", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BastionError, _bastion_error)
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
