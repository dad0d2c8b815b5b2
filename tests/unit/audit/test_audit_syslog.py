"""Security events and alerts reach syslog over UDP from the sink's own thread; a million
refused requests cost the audit log and syslog a bounded number of lines."""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from logging.handlers import SysLogHandler
from pathlib import Path
from typing import Any

import pytest

from bastion.audit.alerts import AlertRules, rules_from
from bastion.audit.events import SecurityEvents
from bastion.audit.logfile import LogFile
from bastion.audit.syslog import SyslogSink
from bastion.audit.writer import AuditSink, AuditWriter
from bastion.config.alerts import read_alerts
from bastion.config.reader import EnvReader
from bastion.ratelimit.storage import MemoryStorage
from tests.support import Clock, StartBastion

T0 = 1_700_000_000.0
SCOPE = {"type": "http", "client": ("203.0.113.5", 40000), "headers": []}
LINE = re.compile(rb"<(\d+)>bastion: (\{.*\})")
AUTH = SysLogHandler.LOG_AUTH


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A syslog server stand-in: a UDP socket on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5.0)
        yield sock


def _receive(sock: socket.socket, count: int) -> list[tuple[int, dict[str, Any]]]:
    lines = []
    for _ in range(count):
        match = LINE.fullmatch(sock.recv(65536))
        assert match is not None
        lines.append((int(match.group(1)), json.loads(match.group(2))))
    return lines


def _nothing_more(sock: socket.socket) -> bool:
    sock.settimeout(0.2)
    try:
        sock.recv(65536)
    except TimeoutError:
        return True
    return False


async def test_events_and_alerts_reach_a_udp_syslog(listener: socket.socket) -> None:
    clock = Clock(T0)
    syslog = SyslogSink(listener.getsockname())
    events = SecurityEvents([syslog], clock=clock)
    alerts = AlertRules(events, MemoryStorage(), rules_from(read_alerts(EnvReader({}))))
    events.add_sink(alerts)
    events.record("auth.lockout", outcome="denied", scope=SCOPE, user_id="u1", password="x")
    try:
        (event, alert) = _receive(listener, 2)
    finally:
        syslog.close()
    assert event[0] == AUTH * 8 + SysLogHandler.LOG_INFO
    assert alert[0] == AUTH * 8 + SysLogHandler.LOG_WARNING
    assert event[1]["type"] == "auth.lockout"
    assert event[1]["details"] == {"password": "[REDACTED]"}  # as the audit log writes it
    assert event[1]["time"] == "2023-11-14T22:13:20.000000+00:00"
    assert alert[1]["type"] == "alert.lockout"
    assert alert[1]["client_ip"] == "203.0.113.5"
    assert alert[1]["details"] == {"rule": "lockout", "subject": "u1", "of": "auth.lockout"}


async def test_an_instance_with_a_syslog_address_sends_its_events_and_alerts(
    start_bastion: StartBastion, listener: socket.socket
) -> None:
    host, port = listener.getsockname()
    bastion = await start_bastion(
        {"AUDIT_SYSLOG_ADDRESS": f"{host}:{port}", "ALERT_SIGNIN_FAILURES_IP": "1/15m"}
    )
    assert (await bastion.signin("nobody@example.com")).status_code == 400
    await bastion.services.alerts.settle()
    received = _receive(listener, 2)
    assert [(line["type"], line["outcome"]) for _, line in received] == [
        ("auth.signin", "failure"),
        ("alert.signin_failures_ip", "info"),
    ]


def test_a_syslog_that_cannot_be_reached_costs_nothing_but_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    syslog = SyslogSink(str(tmp_path / "no-such-socket"))
    events = SecurityEvents([syslog])
    for _ in range(3):
        events.record("auth.lockout", outcome="denied", user_id="u1")
    syslog.close()
    assert [r.getMessage() for r in caplog.records if r.name == "bastion.audit"] == [
        f"cannot send security events to syslog at {tmp_path / 'no-such-socket'}"
    ]


def _until(condition: Callable[[], bool]) -> None:
    """Wait for the sender's thread to have done something (a wait, not a measure)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_syslog_that_comes_back_gets_the_next_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "log.sock"
    syslog = SyslogSink(str(path))
    events = SecurityEvents([syslog])
    errors = lambda: [r for r in caplog.records if r.name == "bastion.audit"]  # noqa: E731
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.settimeout(5.0)
        try:
            events.record("auth.lockout", outcome="denied", user_id="u1")  # no one listens
            _until(lambda: bool(errors()))
            server.bind(str(path))
            events.record("auth.signin", outcome="failure", user_id="u2")
            (received,) = _receive(server, 1)
        finally:
            syslog.close()
    assert received[1]["type"] == "auth.signin" and received[1]["user_id"] == "u2"
    assert [r.getMessage() for r in errors()] == [
        f"cannot send security events to syslog at {path}"
    ]


def test_events_beyond_the_queue_are_dropped_and_counted(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    connect = SyslogSink._handler

    def held_up(self: SyslogSink):
        entered.set()
        release.wait(10)
        return connect(self)

    monkeypatch.setattr(SyslogSink, "_handler", held_up)
    syslog = SyslogSink(listener.getsockname(), capacity=1)
    events = SecurityEvents([syslog])
    try:
        events.record("auth.lockout", outcome="denied", user_id="first")
        entered.wait(10)  # the sender took the first and is held up connecting
        for user in ("queued", "dropped-1", "dropped-2"):
            events.record("auth.lockout", outcome="denied", user_id=user)
        assert syslog.dropped == 2
        release.set()
        received = _receive(listener, 2)
    finally:
        release.set()
        syslog.close()
    assert [line["user_id"] for _, line in received] == ["first", "queued"]


async def test_a_million_refused_requests_cost_a_bounded_number_of_lines(
    tmp_path: Path, listener: socket.socket
) -> None:
    """An hour of refusals from one address, 278 a second, at ALERT_RATELIMIT_HITS=100/5m."""
    clock = Clock(T0)
    writer = AuditWriter(LogFile(tmp_path / "audit.log", rotation_size=10**9, retention=1))
    syslog = SyslogSink(listener.getsockname())
    events = SecurityEvents([AuditSink(writer), syslog], clock=clock)
    settings = read_alerts(EnvReader({"ALERT_RATELIMIT_HITS": "100/5m"}))
    alerts = AlertRules(events, MemoryStorage(), rules_from(settings))
    events.add_sink(alerts)
    refusals = 1_000_000
    step = 3600 / refusals
    for i in range(refusals):
        clock.now = T0 + i * step
        events.record("ratelimit.hit", outcome="denied", scope=SCOPE, limit="api_user")
        if i % 1000 == 999:  # requests interleave with the alert task on a served loop
            await alerts.settle()
    await alerts.settle()
    writer.close()
    syslog.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    alert_lines = [line for line in lines if line["type"].startswith("alert.")]
    # One alert at the 100th hit of each five minutes: at 0.36 s, then 300 s after each.
    first = 99 * step
    windows = math.floor((3600 - step - first) / (300 + 100 * step)) + 1
    assert windows == 12
    assert len(alert_lines) == windows
    assert {line["type"] for line in alert_lines} == {"alert.ratelimit_hits"}
    # Refusals themselves: one in full and one count a minute.
    assert sum(1 for line in lines if line["type"] == "ratelimit.hit") == 60
    counted = [line for line in lines if line["type"] == "audit.coalesced"]
    assert len(counted) == 60
    assert sum(line["details"]["count"] for line in counted) == refusals - 60
    assert len(lines) == 60 + 60 + windows
    # Syslog is sent the same, bounded, lines.
    received = _receive(listener, len(lines))
    assert _nothing_more(listener)
    assert sorted(line["type"] for _, line in received) == sorted(line["type"] for line in lines)
