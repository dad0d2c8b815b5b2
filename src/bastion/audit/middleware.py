"""Request entries for the audit log: who did what, from where, and (by level) with what.

Pure ASGI and light on purpose: it sits on every request. Everything that can be decided
once (level, path rules) is precomputed; per request it only notes the status, the
duration and, at ``REQUEST``/``REQUEST_RESPONSE``, the first ``MAX_BODY_LOG_SIZE`` bytes
of the bodies (a streamed body is never held beyond that). Redaction and JSON encoding
happen in the writer thread, off the event loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.audit.writer import AuditWriter


class AuditLevel(IntEnum):
    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3


_SKIPPED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def path_rule(entries: tuple[str, ...]) -> re.Pattern[str] | None:
    """A matcher for ``AUDIT_*_PATHS`` entries, ``None`` when there are none.

    ``/api/v1/chats`` is a path prefix, matched segment-wise; a bare name such as ``chats``
    is open-webui's form, a resource under ``/api/`` or ``/api/v1/``.
    """
    alternatives = []
    for entry in entries:
        if entry.startswith("/"):
            alternatives.append(re.escape(entry.rstrip("/")))
        else:
            alternatives.append(r"/api(?:/v1)?/" + re.escape(entry.strip("/")))
    if not alternatives:
        return None
    return re.compile(r"(?:" + "|".join(alternatives) + r")(?:/|$)")


class AuditMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        writer: AuditWriter,
        level: AuditLevel,
        included_paths: tuple[str, ...] = (),
        excluded_paths: tuple[str, ...] = (),
        audit_get_requests: bool = False,
        max_body_size: int = 2048,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.writer = writer
        self.level = level
        self.active = level > AuditLevel.NONE and writer.enabled
        # Included paths win when set: only they are audited, exclusions do not apply.
        self.included = path_rule(included_paths)
        self.excluded = None if self.included else path_rule(excluded_paths)
        self.skipped_methods = frozenset() if audit_get_requests else _SKIPPED_METHODS
        self.max_body_size = max_body_size
        self.clock = clock

    def audited(self, method: str, path: str) -> bool:
        if not self.active or method in self.skipped_methods:
            return False
        if self.included is not None:
            return self.included.match(path) is not None
        return self.excluded is None or self.excluded.match(path) is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before answering, the server answers 500
        capture_request = self.level >= AuditLevel.REQUEST
        capture_response = self.level >= AuditLevel.REQUEST_RESPONSE
        cap = self.max_body_size
        request_body = bytearray()
        response_body = bytearray()
        truncated = [False, False]

        # The start of the body is read here, before the app runs, so that it is logged
        # even when the app never reads it; past the cap the body streams through as is.
        early: list[Message] = []
        while capture_request and len(request_body) < cap:
            message = await receive()
            early.append(message)
            if message["type"] != "http.request":
                break
            self._keep(request_body, message.get("body", b""), truncated, 0)
            if not message.get("more_body", False):
                break

        async def audit_receive() -> Message:
            if early:
                return early.pop(0)
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                self._keep(request_body, message["body"], truncated, 0)
            return message

        async def audit_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif capture_response and message["type"] == "http.response.body":
                self._keep(response_body, message.get("body", b""), truncated, 1)
            await send(message)

        try:
            await self.app(scope, audit_receive if capture_request else receive, audit_send)
        finally:
            entry = self._entry(scope, status, time.perf_counter() - started)
            if capture_request:
                entry["request_body"] = bytes(request_body)
                entry["request_body_truncated"] = truncated[0]
            if capture_response:
                entry["response_body"] = bytes(response_body)
                entry["response_body_truncated"] = truncated[1]
            self.writer.submit(entry)

    def _keep(self, body: bytearray, chunk: bytes, truncated: list[bool], which: int) -> None:
        """Add ``chunk`` to ``body`` up to the cap; note when something was left out."""
        room = self.max_body_size - len(body)
        if len(chunk) > room:
            truncated[which] = True
        if room > 0:
            body.extend(chunk[:room])

    def _entry(self, scope: Scope, status: int, duration: float) -> dict[str, Any]:
        # The auth dependency leaves the caller in request.state once the app has run.
        principal = scope.get("state", {}).get("principal")
        user = principal.user if principal is not None else None
        client = scope.get("client")
        user_agent = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
                break
        return {
            "time": self.clock(),
            "type": "http.request",
            "user_id": user.id if user is not None else None,
            "role": user.role if user is not None else None,
            "api_key_id": principal.api_key_id if principal is not None else None,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "client_ip": client[0] if client else None,
            "user_agent": user_agent,
        }
