"""Security events forwarded to ``AUDIT_WEBHOOK_URL`` (a SIEM), off the request path.

A copy off the host is what the hash chain cannot give: someone who controls the host
can rewrite the whole local log, not what was already sent. ``emit`` only queues (bounded;
when full, the event is dropped here and counted, the local log still has it); one thread
posts each event as JSON, with TLS verification on and short timeouts.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import httpx

from bastion.audit.events import SecurityEvent
from bastion.audit.writer import encode, event_record

log = logging.getLogger("bastion.audit")

_STOP = object()


def post_event(client: httpx.Client, url: str, body: bytes) -> None:
    """The one outbound call (to be routed through the SSRF-safe client when it exists)."""
    response = client.post(url, content=body, headers={"Content-Type": "application/json"})
    response.raise_for_status()


class WebhookSink:
    def __init__(self, url: str, *, capacity: int = 1000, timeout: float = 5.0) -> None:
        self.url = url
        self.dropped = 0
        self._queue: queue.Queue[object] = queue.Queue(capacity)
        self._client = httpx.Client(timeout=timeout, verify=True, follow_redirects=False)
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
        self._client.close()

    def _run(self) -> None:
        failing = False
        while (event := self._queue.get()) is not _STOP:
            assert isinstance(event, SecurityEvent)
            payload: dict[str, Any] = encode(event_record(event))
            try:
                post_event(self._client, self.url, json.dumps(payload).encode("utf-8"))
            except httpx.HTTPError as exc:
                if not failing:  # once per outage, not once per event
                    log.error("cannot forward security events to the webhook: %s", exc)
                failing = True
            else:
                failing = False
