"""Security events and alerts to syslog (``AUDIT_SYSLOG_ADDRESS``), off the event loop.

Syslog is where a host's other intrusion detection already looks (fail2ban, a SIEM's
agent, journald), and a copy there outlives a rewrite of the local log. Each event is
one line, ``bastion: {JSON}`` as the audit log writes it (redacted), at facility
``auth``; alerts at ``warning``, the rest at ``info``.

``emit`` only queues (bounded; when full the event is dropped and counted, the audit log
still has it); one thread owns the standard library's ``SysLogHandler``: resolving a host
name, connecting a unix socket and sending may all block, never on the loop. Floods of
refusals are folded as in the audit log (:class:`~bastion.audit.coalesce.Coalescer`), so
a million refused requests cost syslog a few lines a minute, not a million.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from logging.handlers import SysLogHandler
from typing import Any

from bastion.audit.coalesce import Coalescer
from bastion.audit.events import SecurityEvent
from bastion.audit.writer import encode, event_record

log = logging.getLogger("bastion.audit")

_STOP = object()


class _Handler(SysLogHandler):
    error = False

    def handleError(self, record: logging.LogRecord) -> None:
        self.error = True  # instead of a traceback on stderr for every event


class SyslogSink:
    def __init__(
        self,
        address: str | tuple[str, int],
        *,
        capacity: int = 1000,
        facility: int = SysLogHandler.LOG_AUTH,
        coalescer: Coalescer | None = None,
    ) -> None:
        self.address = address
        self.facility = facility
        self.dropped = 0
        self._coalescer = Coalescer() if coalescer is None else coalescer
        self._lock = threading.Lock()  # events come from the loop and the writer's thread
        self._queue: queue.Queue[object] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="bastion-audit-syslog", daemon=True)
        self._thread.start()

    def emit(self, event: SecurityEvent) -> None:
        with self._lock:
            for record in self._coalescer.offer(event_record(event)):
                self._put(record)

    def _put(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Send the counts of refusals folded so far, what is queued, then stop."""
        with self._lock:
            for summary in self._coalescer.drain():
                self._put(summary)
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def _handler(self) -> _Handler | None:
        socktype = socket.SOCK_DGRAM if isinstance(self.address, tuple) else None
        try:
            handler = _Handler(self.address, facility=self.facility, socktype=socktype)
        except OSError:
            return None
        handler.ident = "bastion: "
        handler.append_nul = False  # one datagram is one message
        return handler

    def _run(self) -> None:
        handler: _Handler | None = None
        failing = False
        while (record := self._queue.get()) is not _STOP:
            assert isinstance(record, dict)
            if handler is None:
                handler = self._handler()  # again at the next event while it cannot
                if handler is None:
                    if not failing:
                        log.error("cannot send security events to syslog at %s", self.address)
                    failing = True
                    continue
            alert = str(record.get("type", "")).startswith("alert.")
            handler.error = False
            handler.emit(
                logging.makeLogRecord(
                    {
                        "msg": json.dumps(encode(record), separators=(",", ":")),
                        "levelno": logging.WARNING if alert else logging.INFO,
                        "levelname": "WARNING" if alert else "INFO",
                    }
                )
            )
            if handler.error and not failing:  # once per outage, not once per event
                log.error("cannot send security events to syslog at %s", self.address)
            failing = handler.error
        if handler is not None:
            handler.close()
