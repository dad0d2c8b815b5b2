"""A flood of refused requests costs the audit log a line per address, reason and window."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bastion.audit import csp, query
from bastion.audit.coalesce import Coalescer
from bastion.audit.logfile import LogFile, rotated_files
from bastion.audit.writer import AuditWriter
from tests.support import Bastion, Clock, StartBastion

T0 = 1_700_000_000.0


def _hit(time: float, ip: str = "203.0.113.5", limit: str = "signin_ip") -> dict[str, Any]:
    return {
        "time": time,
        "type": "ratelimit.hit",
        "outcome": "denied",
        "client_ip": ip,
        "details": {"limit": limit, "rate": "60/15m"},
    }


def test_repeats_in_a_window_are_one_entry_then_a_count() -> None:
    coalescer = Coalescer(60.0)
    assert coalescer.offer(_hit(T0)) == [_hit(T0)]
    assert coalescer.offer(_hit(T0 + 1)) == []
    assert coalescer.offer(_hit(T0 + 2, ip="198.51.100.1")) == [_hit(T0 + 2, ip="198.51.100.1")]
    assert coalescer.offer(_hit(T0 + 3, limit="signup")) == [_hit(T0 + 3, limit="signup")]
    assert coalescer.offer(_hit(T0 + 59)) == []
    other = {"time": T0 + 61, "type": "auth.signin", "outcome": "failure", "details": {}}
    # The next record after the window closes brings out the count, then itself.
    assert coalescer.offer(other) == [
        {
            "time": T0 + 59,
            "type": "audit.coalesced",
            "outcome": "info",
            "user_id": None,
            "client_ip": "203.0.113.5",
            "details": {
                "of": "ratelimit.hit",
                "count": 2,
                "window_start": T0,
                "limit": "signin_ip",
            },
        },
        other,
    ]
    # A new window starts with a full entry again.
    assert coalescer.offer(_hit(T0 + 62)) == [_hit(T0 + 62)]
    assert coalescer.offer(_hit(T0 + 63)) == []
    assert [s["details"]["count"] for s in coalescer.drain()] == [1]
    assert coalescer.drain() == []


def test_open_windows_are_capped() -> None:
    coalescer = Coalescer(60.0, max_keys=2)
    for ip in ("192.0.2.1", "192.0.2.2"):
        coalescer.offer(_hit(T0, ip=ip))
        coalescer.offer(_hit(T0, ip=ip))
    # A third address closes the oldest window early rather than growing the table.
    out = coalescer.offer(_hit(T0 + 1, ip="192.0.2.3"))
    assert [(e["type"], e["client_ip"]) for e in out] == [
        ("audit.coalesced", "192.0.2.1"),
        ("ratelimit.hit", "192.0.2.3"),
    ]


def _entries(path: Path) -> list[dict[str, Any]]:
    return list(query.entries(path))


def test_a_flood_of_refusals_keeps_earlier_security_events(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditWriter(LogFile(path, rotation_size=64 * 1024, retention=2, write=os.write))
    writer.submit({"time": T0, "type": "auth.lockout", "outcome": "denied", "details": {}})
    for n in range(100_000):  # 100,000 refusals from one address within 50 minutes
        writer.submit(
            {
                "time": T0 + 1 + n * 0.03,
                "type": "http.request",
                "method": "POST",
                "path": "/api/v1/auths/signin",
                "status": 429,
                "client_ip": "203.0.113.5",
            }
        )
    writer.close()
    entries = _entries(path)
    assert rotated_files(path) == []  # all of it fits in one small file
    assert [(e["type"], e.get("details", {}).get("count")) for e in entries] == [
        ("auth.lockout", None),
        *[("http.request", None), ("audit.coalesced", 1999)] * 50,
    ]
    assert sum(e["details"]["count"] + 1 for e in entries[2::2]) == 100_000


async def _csp(bastion: Bastion, body: bytes, ip: str = "203.0.113.9") -> int:
    response = await bastion.client.post(
        "/api/v1/security/csp-report",
        content=body,
        headers={"Content-Type": "application/csp-report", "X-Forwarded-For": ip},
    )
    return response.status_code


async def test_csp_reports_are_limited_per_address_and_coalesced(
    start_bastion: StartBastion,
) -> None:
    clock = Clock()
    bastion = await start_bastion({"CSP_REPORT_RATE_LIMIT": "3/1m"}, clock=clock)
    report = json.dumps({"csp-report": {"violated-directive": "img-src"}}).encode()
    assert [await _csp(bastion, report) for _ in range(6)] == [204, 204, 204, 429, 429, 429]
    assert await _csp(bastion, report, ip="198.51.100.7") == 204  # another address
    big = b'{"csp-report": {"a": "' + b"x" * 8200 + b'"}}'
    assert await _csp(bastion, big, ip="192.0.2.44") == 413
    assert bastion.services.audit.flush(30)
    seen = [
        (e["type"], e["client_ip"], (e.get("details") or {}).get("count"), e.get("status"))
        for e in _entries(bastion.settings.audit.audit_logs_file_path)
        if e["type"] != "auth.signup"
    ]
    first, other, big_ip = "203.0.113.9", "198.51.100.7", "192.0.2.44"
    assert seen == [
        ("csp.report", first, None, None),
        *[("http.request", first, None, 204)] * 3,
        ("ratelimit.hit", first, None, None),
        ("http.request", first, None, 429),
        ("csp.report", other, None, None),
        ("http.request", other, None, 204),
        ("http.request", big_ip, None, 413),
        # At the flush: the two later reports, rate-limit hits and 429s of the window.
        ("audit.coalesced", first, 2, None),
        ("audit.coalesced", first, 2, None),
        ("audit.coalesced", first, 2, None),
    ]


def test_csp_reports_are_stored_compactly() -> None:
    field = "\u00e9" * 5000  # each escaped to six bytes in the log line
    body = json.dumps(
        [
            {"type": "csp-violation", "body": {"blockedURL": field, "sample": field}}
            for _ in range(10)
        ]
    ).encode()
    reports = csp.parse_reports(body)
    assert reports == [{"blockedURL": "\u00e9" * (csp.MAX_FIELD // 6)}] * csp.MAX_REPORTS
    assert csp.MAX_REPORTS == 3


async def test_bogus_api_keys_are_written_once_then_counted(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"ENABLE_API_KEYS": "true"})
    bogus = {"Authorization": "Bearer sk-" + "0" * 40, "X-Forwarded-For": "203.0.113.77"}
    statuses = [
        (await bastion.client.post("/api/v1/auths/api_key", json={}, headers=bogus)).status_code
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    assert bastion.services.audit.flush(30)
    seen = [
        (e["type"], (e.get("details") or {}).get("of"), (e.get("details") or {}).get("count"))
        for e in _entries(bastion.settings.audit.audit_logs_file_path)
        if e.get("client_ip") == "203.0.113.77"
    ]
    assert seen == [
        ("api_key.denied", None, None),
        ("http.request", None, None),
        ("audit.coalesced", "api_key.denied", 4),
        ("audit.coalesced", "http.request", 4),
    ]
