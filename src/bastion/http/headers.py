"""Security response headers, added to every response by a pure-ASGI middleware.

The values come validated from :func:`bastion.http.header_values.build_security_headers`.
Who wins when the app sets a header itself:

- ``Cache-Control``, ``Content-Security-Policy``, ``Content-Security-Policy-Report-Only``
  and ``X-Frame-Options``: the app's value, so that one route can tighten (or, knowingly,
  relax) its own policy.
- every other header: Bastion's value replaces the app's, so no route can weaken the
  deployment's policy by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.http.header_values import Header, SecurityHeaders

# Responses that carry user data: no shared or browser cache may keep them. Static assets
# are left cacheable. Matching a few more paths (e.g. "/apis") only over-applies no-store.
# The auth endpoints live under /api/v1/auths; /oauth is the OAuth login and callback.
API_PATH_PREFIXES: tuple[str, ...] = ("/api", "/ollama", "/openai", "/oauth")

_HSTS = b"strict-transport-security"
_CACHE_CONTROL = b"cache-control"
_CSP = b"content-security-policy"
# Only what a base64/base64url nonce can hold: the nonce is copied into a header.
_NONCE = re.compile(r"[A-Za-z0-9+/_-]{1,256}={0,2}")


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response.

    HSTS only over HTTPS (browsers ignore it over HTTP, and the scheme is already the
    client's one when a trusted proxy terminated TLS); ``Cache-Control`` only on
    :data:`API_PATH_PREFIXES`. With the default CSP, a nonce the app stored in
    ``request.state.csp_nonce`` is allowed in ``script-src`` for that response only.
    """

    def __init__(
        self,
        app: ASGIApp,
        headers: SecurityHeaders,
        *,
        api_prefixes: tuple[str, ...] = API_PATH_PREFIXES,
    ) -> None:
        if not all(prefix.startswith("/") for prefix in api_prefixes):
            raise ValueError("api_prefixes must be absolute paths")
        self.app = app
        self.api_prefixes = api_prefixes
        # The default policy as sent without a nonce, and split where a nonce goes.
        self._default_csp: tuple[Header, bytes, bytes] | None = None
        if headers.nonce_csp is not None:
            head, tail = headers.nonce_csp
            self._default_csp = ((_CSP, head + tail), head, tail)
        self._strip = frozenset(name for name, _ in headers.enforced) | (
            {_HSTS} if headers.hsts is not None else set()
        )
        hsts = ((_HSTS, headers.hsts),) if headers.hsts is not None else ()
        cache = ((_CACHE_CONTROL, headers.cache_control),) if headers.cache_control else ()
        # [https][api] -> (appended always, appended unless the app set the same name)
        self._variants = tuple(
            tuple(
                (
                    headers.enforced + (hsts if https else ()),
                    headers.overridable + (cache if api else ()),
                )
                for api in (False, True)
            )
            for https in (False, True)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        always, optional = self._variants[scope.get("scheme") == "https"][
            scope["path"].startswith(self.api_prefixes)
        ]
        # request.state is this dict; made here so that a copied scope still shares it.
        state = scope.setdefault("state", {}) if self._default_csp else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)  # the app may reuse its message: never edit it
                message["headers"] = self._merge(
                    message.get("headers", ()), always, optional, state
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _merge(
        self,
        app_headers: Iterable[tuple[bytes, bytes]],
        always: tuple[Header, ...],
        optional: tuple[Header, ...],
        state: dict[str, Any] | None,
    ) -> list[tuple[bytes, bytes]]:
        strip = self._strip
        merged = []
        app_names = set()
        for pair in app_headers:
            name = pair[0].lower()
            if name not in strip:
                app_names.add(name)
                merged.append(pair)
        merged += always
        for pair in optional:
            if pair[0] not in app_names:
                merged.append(pair)
        if state is not None and self._default_csp is not None and _CSP not in app_names:
            csp, head, tail = self._default_csp
            nonce = state.get("csp_nonce")
            if isinstance(nonce, str) and _NONCE.fullmatch(nonce):
                csp = (_CSP, b"".join((head, b" 'nonce-", nonce.encode(), b"'", tail)))
            merged.append(csp)
        return merged
