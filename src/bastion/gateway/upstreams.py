"""The configured model servers and how Bastion talks to them.

Requests to an upstream are built from nothing: no header of the client's request is
copied, so its cookie or bearer token never leaves Bastion, and the upstream's key is
added here and nowhere else, so it never reaches a client, an error or the log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from bastion.config import Settings
from bastion.errors import BastionError
from bastion.jsondata import parse_json
from bastion.outbound import OutboundClient, ResponseTooLarge, UpstreamTimeout

Kind = Literal["openai", "ollama"]


@dataclass(frozen=True, slots=True)
class Upstream:
    kind: Kind
    index: int
    base_url: str
    key: str = field(default="", repr=False)

    @property
    def name(self) -> str:
        """``openai-0``, ``ollama-1``: what logs and prefixed model ids show, never the URL."""
        return f"{self.kind}-{self.index}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def headers(self, *, accept: str = "application/json") -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": accept}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers


NO_UPSTREAM = (
    "No model upstream is configured: /api/models lists nothing and completions fail. "
    "Set OLLAMA_BASE_URLS or OPENAI_API_BASE_URLS (with ENABLE_OLLAMA_API or "
    "ENABLE_OPENAI_API) and restart, or add a connection under Administration, Server settings."
)


def upstreams_from(settings: Settings) -> tuple[Upstream, ...]:
    found: list[Upstream] = []
    if settings.gateway.enable_openai_api:
        found += [
            Upstream("openai", index, url, key)
            for index, (url, key) in enumerate(
                zip(
                    settings.gateway.openai_api_base_urls,
                    settings.gateway.openai_api_keys,
                    strict=True,
                )
            )
        ]
    if settings.gateway.enable_ollama_api:
        found += [
            Upstream("ollama", index, url)
            for index, url in enumerate(settings.gateway.ollama_base_urls)
        ]
    return tuple(found)


# --- Errors: the OpenAI error format, plus Bastion's detail/code ---------------------------


class GatewayError(BastionError):
    """An error OpenAI clients can read: ``{"error": {...}}`` beside Bastion's detail/code."""

    error_type = "invalid_request_error"

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.detail, "type": self.error_type, "code": self.code},
            "detail": self.detail,
            "code": self.code,
        }


class InvalidCompletionRequest(GatewayError):
    code = "invalid_request"
    detail = "The body must be a JSON object."


class ModelNotFound(GatewayError):
    # Also the answer for a model the caller may not use: no hint that it exists.
    status_code = 404
    code = "model_not_found"
    detail = "No such model."


class UpstreamFailure(GatewayError):
    """An upstream that did not answer usefully. The detail never names the URL or key."""

    status_code = 502
    code = "upstream_error"
    detail = "The model server did not give a usable answer."
    error_type = "api_error"


class UpstreamUnavailable(UpstreamFailure):
    code = "upstream_unavailable"
    detail = "The model server cannot be reached."


class UpstreamTooLarge(UpstreamFailure):
    code = "upstream_response_too_large"
    detail = "The model server's answer is larger than allowed."


class UpstreamRejected(UpstreamFailure):
    """The upstream refused the request (4xx/5xx); its own message is not passed on."""

    code = "upstream_rejected"

    def __init__(self, status: int) -> None:
        # A 4xx is the caller's request; anything else is the upstream's fault.
        client_error = 400 <= status < 500 and status not in (401, 403, 407)
        super().__init__(
            f"The model server refused the request (status {status}).",
            status_code=status if client_error else 502,
        )
        self.error_type = "invalid_request_error" if client_error else "api_error"


# --- The way out: the safe outbound client ---------------------------------------------


@asynccontextmanager
async def open_stream(
    client: OutboundClient,
    upstream: Upstream,
    method: str,
    path: str,
    *,
    body: Any = None,
    raw: bytes | None = None,
    accept: str = "application/json",
) -> AsyncIterator[httpx.Response]:
    """The upstream's response, headers read, with transport failures turned into 502/504."""
    content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    async with AsyncExitStack() as stack:
        with translate_errors():
            response = await stack.enter_async_context(
                client.stream(
                    method,
                    upstream.url(path),
                    headers=upstream.headers(accept=accept),
                    content=content,
                )
            )
        yield response


@contextmanager
def translate_errors() -> Iterator[None]:
    """Transport exceptions as :class:`UpstreamFailure`; never with the URL or the key."""
    try:
        yield
    except UpstreamFailure:
        raise
    except (UpstreamTimeout, httpx.TimeoutException):
        # The outbound client's timeout, told in the OpenAI format and of the model server.
        raise UpstreamFailure(
            "The model server did not answer in time.",
            code=UpstreamTimeout.code,
            status_code=UpstreamTimeout.status_code,
        ) from None
    except ResponseTooLarge:
        raise UpstreamTooLarge from None
    except (httpx.HTTPError, OSError, BastionError):
        raise UpstreamUnavailable from None


async def read_body(client: OutboundClient, response: httpx.Response) -> bytes:
    """The whole body, decompressed, under the outbound client's size cap."""
    with translate_errors():
        return await client.read(response)


async def read_json(client: OutboundClient, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise UpstreamRejected(response.status_code)
    try:
        return parse_json(await read_body(client, response))
    except ValueError:
        raise UpstreamFailure("The model server's answer is not valid JSON.") from None
