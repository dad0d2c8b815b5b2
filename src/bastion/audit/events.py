"""Security events: one call, ``events.record(...)``, from every part that makes a decision.

Events are recorded at every audit level, ``NONE`` included (SPEC 6). ``record`` never
blocks and never raises: it hands the event to the sinks, which must queue rather than
write on the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from starlette.types import Scope

Outcome = Literal["success", "failure", "denied", "info"]

log = logging.getLogger("bastion.security")


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    type: str
    outcome: Outcome
    time: float
    user_id: str | None = None
    role: str | None = None
    api_key_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class _Account(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def role(self) -> str: ...


class Actor(Protocol):
    """Who acted: an authenticated caller (``bastion.auth.authenticate.Principal``)."""

    @property
    def user(self) -> _Account: ...

    @property
    def api_key_id(self) -> str | None: ...


class EventSink(Protocol):
    def emit(self, event: SecurityEvent) -> None: ...


class LoggingSink:
    """Writes each event to the ``bastion.security`` logger."""

    def emit(self, event: SecurityEvent) -> None:
        log.info(
            "%s %s user=%s ip=%s %s",
            event.type,
            event.outcome,
            event.user_id,
            event.client_ip,
            dict(event.details),
        )


class MemorySink:
    """Keeps the events in a list, for tests to assert on (``Services.build(sinks=...)``)."""

    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []

    def emit(self, event: SecurityEvent) -> None:
        self.events.append(event)

    def of_type(self, type_: str) -> list[SecurityEvent]:
        return [event for event in self.events if event.type == type_]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class SecurityEvents:
    def __init__(
        self, sinks: Sequence[EventSink] = (), *, clock: Callable[[], float] = time.time
    ) -> None:
        self.sinks = list(sinks)
        self._clock = clock

    def add_sink(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def record(
        self,
        type_: str,
        *,
        outcome: Outcome = "success",
        scope: Scope | None = None,
        actor: Actor | None = None,
        user_id: str | None = None,
        role: str | None = None,
        api_key_id: str | None = None,
        client_ip: str | None = None,
        **details: Any,
    ) -> SecurityEvent:
        """Record one event.

        ``scope`` supplies the client IP (as the proxy layer set it) and the user agent;
        ``actor`` the user, role and API key, unless they are given one by one; without
        ``scope``, ``client_ip`` names the address (an alert names its source's).
        """
        if actor is not None:
            user_id = user_id or actor.user.id
            role = role or actor.user.role
            api_key_id = api_key_id or actor.api_key_id
        user_agent = None
        if scope is not None:
            client = scope.get("client")
            client_ip = client[0] if client else None
            user_agent = _header(scope, b"user-agent")
        event = SecurityEvent(
            type=type_,
            outcome=outcome,
            time=self._clock(),
            user_id=user_id,
            role=role,
            api_key_id=api_key_id,
            client_ip=client_ip,
            user_agent=user_agent,
            details=details,
        )
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception:  # a broken sink must not turn a decision into a 500
                log.exception("security event sink %r failed", sink)
        return event
