"""The audit writer: entries are queued on the request path and written by one thread.

``submit`` never blocks and never raises: it appends to a bounded in-memory queue and
returns. A writer thread drains the queue in batches: it redacts and encodes each entry,
seals it into the hash chain and appends it to the shared log file (and stdout).

When the writer falls behind (a slow or full disk), memory stays bounded:

- once ``capacity`` entries wait, new *request* entries are dropped;
- security events are still queued, up to ``capacity + security_reserve``; past that
  they are dropped too (only after a long outage: every request entry is dropped first);
- repeated refusals (rate-limit hits, bad credentials, CSP reports, bodies over the cap)
  are folded by :class:`~bastion.audit.coalesce.Coalescer` into one entry per address,
  reason and window before they are queued, so a flood of them cannot fill the disk;
- each drop is counted, and the counts are recorded as an ``audit.dropped`` event as
  soon as the writer catches up.

A write that fails (``ENOSPC``, ``EIO``…) does not reach the requests: the failure is
logged and recorded once as an ``audit.write_failed`` event, the batch is kept and retried
every ``retry_interval`` seconds, and writing resumes by itself when space returns.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from bastion.audit.chain import dropped_entry, encodable
from bastion.audit.coalesce import Coalescer
from bastion.audit.events import SecurityEvent
from bastion.audit.logfile import LogFile
from bastion.audit.redact import redact_body, redact_value

log = logging.getLogger("bastion.audit")

Report = Callable[[str, dict[str, Any]], None]


_second: tuple[int, str] = (-1, "")  # the last second formatted: most entries share it


def utc_iso(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 in UTC with microseconds (``…T12:00:00.000001+00:00``)."""
    global _second
    second = math.floor(timestamp)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((timestamp - second) * 1_000_000):06d}+00:00"


def encode(record: dict[str, Any]) -> dict[str, Any]:
    """The logged form of a queued record: UTC time, secrets redacted, bodies decoded.

    A body that cannot be parsed (too deep, not JSON, not UTF-8) is logged as redacted
    text with ``<body>_opaque`` saying why; a record that still cannot be made into an
    entry becomes an ``audit.entry_dropped`` event, so it never takes the rest of its
    batch with it.
    """
    try:
        return _encode(record)
    except Exception as exc:  # whatever the record holds, its neighbours are written
        log.exception("an audit entry of type %r could not be encoded", record.get("type"))
        return dropped_entry(record, exc)


def _encode(record: dict[str, Any]) -> dict[str, Any]:
    entry = dict(record)
    entry["time"] = utc_iso(record["time"])
    if "details" in entry:
        entry["details"] = redact_value(entry["details"])
    for name in ("request_body", "response_body"):
        body = entry.get(name)
        if isinstance(body, bytes):
            entry[name], opaque = redact_body(body, bool(entry.get(name + "_truncated")))
            if opaque is not None:
                entry[name + "_opaque"] = opaque
    for name in ("path", "user_agent"):
        if isinstance(entry.get(name), str):
            entry[name] = redact_value(entry[name])
    return entry


def _log_report(type_: str, details: dict[str, Any]) -> None:
    log.warning("%s %s", type_, details)


class AuditWriter:
    def __init__(
        self,
        log_file: LogFile | None,
        *,
        stdout: TextIO | None = None,
        capacity: int = 10_000,
        security_reserve: int = 10_000,
        batch_size: int = 512,
        batch_delay: float = 0.05,
        retry_interval: float = 1.0,
        report: Report = _log_report,
        coalescer: Coalescer | None = None,
    ) -> None:
        self.log_file = log_file
        self.stdout = stdout
        self.capacity = capacity
        self.hard_capacity = capacity + security_reserve
        self.batch_size = batch_size
        self.batch_delay = batch_delay
        self.retry_interval = retry_interval
        self.report = report
        self.coalescer = Coalescer() if coalescer is None else coalescer
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._hurry = threading.Event()  # set by flush and close: no waiting for a batch
        self._thread: threading.Thread | None = None
        self._queued = 0
        self._done = 0
        self._dropped_requests = 0
        self._dropped_security = 0
        self._failing = False

    @property
    def enabled(self) -> bool:
        return self.log_file is not None or self.stdout is not None

    def submit(self, record: dict[str, Any], *, security: bool = False) -> None:
        """Queue one record (its ``time`` a POSIX timestamp); never blocks, never raises."""
        if not self.enabled:
            return
        with self._cond:
            waiting = len(self._queue)
            for ready in self.coalescer.offer(record):
                self._enqueue(ready, security or ready is not record)
            if not self._start_thread() and waiting == 0:
                self._cond.notify()

    def _start_thread(self) -> bool:
        """Start the writer thread if it is not running (the lock held); True if started."""
        if self._thread is not None:
            return False
        self._thread = threading.Thread(target=self._run, name="bastion-audit-writer", daemon=True)
        self._thread.start()
        return True

    def _enqueue(self, record: dict[str, Any], security: bool) -> None:
        waiting = len(self._queue)
        if waiting >= self.capacity and (not security or waiting >= self.hard_capacity):
            if security:
                self._dropped_security += 1
            else:
                self._dropped_requests += 1
            return
        self._queue.append(record)
        self._queued += 1

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written (or given up); False on timeout.

        Counts of refusals folded so far are written too.
        """
        with self._cond:
            for summary in self.coalescer.drain():
                self._enqueue(summary, True)
            if self._queue:
                self._start_thread()
            target = self._queued
            self._hurry.set()
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop the thread."""
        self.flush(timeout)
        self._closing.set()
        self._hurry.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if self.log_file is not None:
            self.log_file.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closing.is_set())
                if not self._queue:
                    return
                linger = len(self._queue) < self.batch_size
            # A moment for more entries to arrive: one locked write for many requests,
            # and far fewer wake-ups competing with the event loop for the interpreter.
            if linger:
                self._hurry.wait(self.batch_delay)
            with self._cond:
                count = min(len(self._queue), self.batch_size)
                batch = [self._queue.popleft() for _ in range(count)]
                dropped = self._dropped_requests, self._dropped_security
                self._dropped_requests = self._dropped_security = 0
            try:
                self._write([encode(record) for record in batch])
            except Exception:  # the writer must outlive any one bad entry
                log.exception("the audit writer failed on a batch of %d entries", count)
            with self._cond:
                self._done += count
                if not self._queue:
                    self._hurry.clear()
                self._cond.notify_all()
            if any(dropped):
                self.report("audit.dropped", {"requests": dropped[0], "security": dropped[1]})

    def _write(self, entries: list[dict[str, Any]]) -> None:
        if self.log_file is None:
            lines = [encodable(entry) + b"\n" for entry in entries]
        else:
            lines = self._append(entries)
        if self.stdout is not None:
            self.stdout.write(b"".join(lines).decode("ascii"))
            self.stdout.flush()

    def _append(self, entries: list[dict[str, Any]]) -> list[bytes]:
        assert self.log_file is not None
        while True:
            try:
                lines = self.log_file.append(entries)
            except OSError as exc:
                if not self._failing:
                    self._failing = True
                    log.error("cannot write the audit log %s: %s", self.log_file.path, exc)
                    self.report(
                        "audit.write_failed",
                        {"path": str(self.log_file.path), "error": exc.strerror or str(exc)},
                    )
                if self._closing.wait(self.retry_interval):
                    log.error("shutting down: %d audit entries were not written", len(entries))
                    return []
                continue
            if self._failing:
                self._failing = False
                log.warning("the audit log %s is writable again", self.log_file.path)
            return lines


def event_record(event: SecurityEvent) -> dict[str, Any]:
    """A security event as an audit record (``encode`` gives its logged form)."""
    return {
        "time": event.time,
        "type": event.type,
        "outcome": event.outcome,
        "user_id": event.user_id,
        "role": event.role,
        "api_key_id": event.api_key_id,
        "client_ip": event.client_ip,
        "user_agent": event.user_agent,
        "details": dict(event.details),
    }


class AuditSink:
    """Security events into the audit log, at every level (``NONE`` included)."""

    def __init__(self, writer: AuditWriter) -> None:
        self.writer = writer

    def emit(self, event: SecurityEvent) -> None:
        self.writer.submit(event_record(event), security=True)
