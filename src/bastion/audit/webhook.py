"""Security events forwarded to ``AUDIT_WEBHOOK_URL`` (a SIEM), off the request path.

A copy off the host is what the hash chain cannot give: someone who controls the host
can rewrite the whole local log, not what was already sent. ``emit`` only queues (bounded;
when full, the event is dropped here and counted, the local log still has it); one thread
posts each event as JSON through the outbound client (SPEC section 7: the address
policy, pinned connections, TLS verification on, no redirects), with short timeouts.
The thread runs the client on an event loop of its own, so the server's loop never waits
for the SIEM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from typing import Any

from bastion.audit.events import SecurityEvent
from bastion.audit.writer import encode, event_record
from bastion.errors import BastionError
from bastion.outbound import AddressPolicy, OutboundClient, OutboundTimeouts

log = logging.getLogger("bastion.audit")

_STOP = object()


class WebhookRefused(BastionError):
    status_code = 502
    code = "webhook_refused"

    def __init__(self, status: int) -> None:
        super().__init__(f"the webhook answered with status {status}")


async def post_event(client: OutboundClient, url: str, body: bytes) -> None:
    """The one outbound call; any answer but a 2xx is a failure (redirects are not followed)."""
    response = await client.request(
        "POST", url, content=body, headers={"Content-Type": "application/json"}
    )
    if not response.is_success:
        raise WebhookRefused(response.status_code)


class WebhookSink:
    def __init__(self, url: str, *, capacity: int = 1000, timeout: float = 5.0) -> None:
        self.url = url
        self.dropped = 0
        self._queue: queue.Queue[object] = queue.Queue(capacity)
        self._timeout = timeout
        self._thread = threading.Thread(target=self._run, name="bastion-audit-webhook", daemon=True)
        self._thread.start()

    def emit(self, event: SecurityEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def _run(self) -> None:
        # The configured URL is the one place it may reach, a private address included.
        client = OutboundClient(
            AddressPolicy.for_urls([self.url]),
            timeouts=OutboundTimeouts(
                connect=self._timeout,
                read=self._timeout,
                write=self._timeout,
                pool=self._timeout,
                total=None,
            ),
        )
        # The client's connections belong to this thread's loop: used and closed on it.
        with asyncio.Runner() as runner:
            try:
                self._forward(runner, client)
            finally:
                runner.run(client.aclose())

    def _forward(self, runner: asyncio.Runner, client: OutboundClient) -> None:
        failing = False
        while (event := self._queue.get()) is not _STOP:
            assert isinstance(event, SecurityEvent)
            payload: dict[str, Any] = encode(event_record(event))
            body = json.dumps(payload).encode("utf-8")
            try:
                runner.run(post_event(client, self.url, body))
            except BastionError as exc:
                if not failing:  # once per outage, not once per event
                    log.error("cannot forward security events to the webhook: %s", exc.detail)
                failing = True
            else:
                failing = False
