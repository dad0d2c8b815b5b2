"""Cross-site request forgery defence for cookie-authenticated state changes.

A browser attaches the auth cookie to requests any page makes, so a page on another site
(or, with ``SameSite=lax``, any subdomain) can make a signed-in user's browser create an
API key or delete a chat. An unsafe request (POST, PUT, PATCH, DELETE) that the cookie
authenticates therefore needs both:

- ``X-CSRF-Token`` equal to the session-bound token: an HMAC of the auth cookie under a
  key derived from the secret key, so no storage is needed and a token from one session
  is worthless in another. Another site cannot read it (same-origin policy) and so
  cannot send it;
- an ``Origin`` (or, when the browser sends none or ``null``, ``Referer``) that is one of
  Bastion's own origins; with neither, ``Sec-Fetch-Site: same-origin``. ``Sec-Fetch-Site:
  cross-site`` is refused whatever the rest says.

Callers with ``Authorization: Bearer`` (session tokens or ``sk-`` keys) are exempt: a
page on another site cannot make a browser send that header. Sign-in and sign-up (no
cookie yet) get the Origin and Sec-Fetch-Site checks when those headers are present, so a
page cannot sign a victim into the attacker's account (login CSRF).

Separately, unsafe requests with a body must send ``application/json`` (415
``unsupported_media_type`` otherwise), except on the paths given as taking other bodies:
an HTML form or a no-preflight ``fetch`` can only send urlencoded, multipart or
``text/plain``, so no JSON route is reachable by a simple request.
See https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import Forbidden, UnsupportedMediaType
from bastion.http.responses import send_error

HEADER_NAME = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_AUTHORIZATION = b"authorization"
_COOKIE = b"cookie"
_ORIGIN = b"origin"
_REFERER = b"referer"
_FETCH_SITE = b"sec-fetch-site"
_TOKEN = HEADER_NAME.lower().encode("ascii")
_CONTENT_TYPE = b"content-type"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_HOST = b"host"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    detail = "The request did not come from this site (CSRF check failed)."


class CsrfTokens:
    """Session-bound CSRF tokens: ``HMAC(key, auth token)``, with a key of their own."""

    def __init__(self, secret_key: str) -> None:
        # A key of its own: a CSRF token must never double as a signature of anything else.
        self._key = hmac.new(secret_key.encode(), b"bastion csrf token", hashlib.sha256).digest()

    def for_session(self, auth_token: str) -> str:
        return hmac.new(self._key, auth_token.encode("latin-1"), hashlib.sha256).hexdigest()

    def matches(self, auth_token: str, presented: str) -> bool:
        return hmac.compare_digest(self.for_session(auth_token), presented)


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return (
        f"{parts.scheme}://{host}" if port in (None, default) else f"{parts.scheme}://{host}:{port}"
    )


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class CsrfMiddleware:
    """Refuses forged cookie-authenticated requests (403 ``csrf_failed``) and non-JSON bodies.

    ``tokens`` computes the expected token; ``cookie_name`` is the auth cookie;
    ``trusted_origins`` are Bastion's own origins (``scheme://host[:port]``); when empty,
    the request's own scheme and Host (as the proxy layer set them) are the origin.
    ``login_paths`` get the Origin checks without a cookie. ``other_bodies`` are path
    prefixes (segment-wise) whose routes take bodies other than JSON. ``sessionless_paths``
    act for no session (a browser's CSP reports carry the cookie but no token), so the
    cookie is not checked there. ``on_refusal(scope,
    reason)`` records the refusal as a security event.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: CsrfTokens,
        cookie_name: str,
        trusted_origins: Iterable[str] = (),
        login_paths: Iterable[str] = (),
        other_bodies: Iterable[str] = (),
        sessionless_paths: Iterable[str] = (),
        on_refusal: Callable[[Scope, str], object] | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.cookie_name = cookie_name
        origins = []
        for origin in trusted_origins:
            normalised = _origin_of(origin)
            if normalised is None:
                raise ValueError(f"{origin!r} is not an http(s) origin")
            origins.append(normalised)
        self.trusted_origins = frozenset(origins)
        self.login_paths = frozenset(path.rstrip("/") for path in login_paths)
        self.sessionless_paths = frozenset(path.rstrip("/") for path in sessionless_paths)
        self._other_bodies = tuple(
            (prefix.rstrip("/"), prefix.rstrip("/") + "/") for prefix in other_bodies
        )
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE:
            await self.app(scope, receive, send)
            return
        bearer = False
        session = cookie = origin = referer = fetch_site = token = content_type = None
        has_body = False
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION:
                scheme, _, credentials = value.partition(b" ")
                bearer = scheme.lower() == b"bearer" and bool(credentials.strip())
            elif name == _COOKIE:
                cookie = value
            elif name == _ORIGIN:
                origin = value
            elif name == _REFERER:
                referer = value
            elif name == _FETCH_SITE:
                fetch_site = value
            elif name == _TOKEN:
                token = value
            elif name == _CONTENT_TYPE:
                content_type = value
            elif name == _CONTENT_LENGTH:
                has_body = value.strip() not in (b"0", b"")
            elif name == _TRANSFER_ENCODING:
                has_body = True

        if not bearer:
            if cookie is not None and scope["path"].rstrip("/") not in self.sessionless_paths:
                session = cookie_parser(cookie.decode("latin-1")).get(self.cookie_name) or None
            # Signing in acts on no session, whatever cookie the browser still holds.
            if scope["path"].rstrip("/") in self.login_paths:
                reason = self._login_problem(scope, origin, fetch_site)
            elif session is not None:
                reason = self._session_problem(scope, session, token, origin, referer, fetch_site)
            else:
                reason = None
            if reason is not None:
                if self.on_refusal is not None:
                    self.on_refusal(scope, reason)
                await send_error(send, CsrfFailed(), close=True)
                return

        if (has_body or content_type is not None) and not self._takes_other_bodies(scope["path"]):
            if content_type is None or not _is_json(content_type):
                await send_error(send, UnsupportedMediaType(), close=True)
                return
        await self.app(scope, receive, send)

    def _takes_other_bodies(self, path: str) -> bool:
        return any(path == prefix or path.startswith(slash) for prefix, slash in self._other_bodies)

    def _own_origins(self, scope: Scope) -> frozenset[str]:
        if self.trusted_origins:
            return self.trusted_origins
        host = next((value for name, value in scope["headers"] if name == _HOST), b"")
        own = _origin_of(f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}")
        return frozenset(() if own is None else (own,))

    def _session_problem(
        self,
        scope: Scope,
        session: str,
        token: bytes | None,
        origin: bytes | None,
        referer: bytes | None,
        fetch_site: bytes | None,
    ) -> str | None:
        if _is(fetch_site, b"cross-site"):
            return "cross_site"
        if token is None:
            return "token_missing"
        if not self.tokens.matches(session, token.decode("latin-1").strip()):
            return "token_mismatch"
        claimed = _claimed(origin)
        if claimed is None and referer is not None:
            claimed = referer.decode("latin-1").strip()
        if claimed is not None:
            return None if self._is_own(scope, claimed) else "origin_mismatch"
        return None if _is(fetch_site, b"same-origin") else "origin_missing"

    def _login_problem(
        self, scope: Scope, origin: bytes | None, fetch_site: bytes | None
    ) -> str | None:
        if _is(fetch_site, b"cross-site"):
            return "cross_site"
        claimed = _claimed(origin)
        if claimed is not None and not self._is_own(scope, claimed):
            return "origin_mismatch"
        return None

    def _is_own(self, scope: Scope, claimed: str) -> bool:
        return _origin_of(claimed) in self._own_origins(scope)


def _is(value: bytes | None, expected: bytes) -> bool:
    return value is not None and value.strip().lower() == expected


def _claimed(value: bytes | None) -> str | None:
    """The ``Origin`` as sent, or None when absent or ``null``.

    With ``Referrer-Policy: no-referrer`` a browser sends ``Origin: null`` even from the
    same origin, so ``null`` claims nothing either way.
    """
    if value is None or _is(value, b"null"):
        return None
    return value.decode("latin-1").strip()
