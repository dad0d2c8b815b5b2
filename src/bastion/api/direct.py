"""Routes whose endpoint takes the request alone: the hot paths, without dependency solving.

FastAPI's handler does, on every call, work that such an endpoint does not need: it solves
the dependency graph, reads the body when one is declared, builds an error context, and
encodes the answer through its serializer. For ``GET /api/v1/auths/`` that was 36 µs of
the 88 µs Bastion spent in the application (best of 5 runs of 2,000 in-process calls),
and more on the completion route, whose dependencies nest three deep; FastAPI's wrapping
of every call in two exit stacks and a route-level exception handler was another 9 µs
of 50. A ``DirectRoute`` keeps everything else FastAPI gives a route (its path and method
matching, its entry in the OpenAPI document, the app's exception handlers) and calls the
endpoint with the request.

The endpoint does its own checks (``await current_principal(request)`` and the like): the
same functions the dependencies call, so no check is skipped.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

Endpoint = TypeVar("Endpoint", bound=Callable[[Request], Awaitable[Any]])


class DirectRoute(APIRoute):
    """An ``APIRoute`` calling ``endpoint(request)``; a dict answer is sent as JSON."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        parameters = list(inspect.signature(endpoint).parameters)
        if parameters != ["request"]:
            raise TypeError(
                f"{endpoint.__qualname__}: a direct route's endpoint takes only `request`"
            )
        super().__init__(path, endpoint, **kwargs)
        handler = self.get_route_handler()

        # In place of FastAPI's wrapping (two exit stacks and an exception handler per
        # call): an error goes up to the app's exception middleware, which answers it
        # with the same handlers.
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handler(Request(scope, receive, send))
            await response(scope, receive, send)

        self.app = app

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            answer = await endpoint(request)
            return answer if isinstance(answer, Response) else JSONResponse(answer)

        return handler


def direct(router: APIRouter, method: str, path: str) -> Callable[[Endpoint], Endpoint]:
    """``@direct(router, "GET", "/")``: ``router.get("/")``, as a ``DirectRoute``."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=[method], route_class_override=DirectRoute)
        return endpoint

    return register
