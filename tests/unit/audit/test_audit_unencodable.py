"""Nothing a client sends can make the audit log lose an entry (its own or another's)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bastion.audit import query
from bastion.audit.chain import verify
from bastion.audit.logfile import LogFile, rotated_files
from bastion.audit.writer import AuditWriter
from tests.support import StartBastion

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB: deeper than the writer's stack


def _log_files(path: Path) -> list[Path]:
    return [*rotated_files(path), path]


async def test_a_deep_body_erases_no_failed_signin(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"AUDIT_LOG_LEVEL": "REQUEST"})
    await bastion.signup("victim@example.com")
    for _ in range(2):
        assert (await bastion.signin("victim@example.com", "wrong password 1")).status_code == 400
    deep = await bastion.client.post(
        "/api/v1/auths/signin", content=DEEP, headers={"Content-Type": "application/json"}
    )
    assert 400 <= deep.status_code < 500  # refused as input, whichever way
    assert (await bastion.signin("victim@example.com", "wrong password 2")).status_code == 400
    assert bastion.services.audit.flush(30)

    path = bastion.settings.audit.audit_logs_file_path
    entries = list(query.entries(path))
    seen = [
        (entry["type"], entry.get("path") or entry["details"].get("reason"))
        for entry in entries
        if entry["type"] in {"auth.signin", "http.request"}
    ]
    failure = ("auth.signin", "wrong_password")
    signin = ("http.request", "/api/v1/auths/signin")
    assert seen == [
        ("http.request", "/api/v1/auths/signup"),
        *[failure, signin] * 2,
        signin,
        failure,
        signin,
    ]
    deep_entry = [entry for entry in entries if entry.get("request_body") == DEEP.decode()]
    assert [(e["status"], e["request_body_opaque"]) for e in deep_entry] == [
        (deep.status_code, "too_deep")
    ]
    assert verify(_log_files(path)) == (len(entries), None)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for this one")


def _writer(path: Path) -> AuditWriter:
    return AuditWriter(LogFile(path, rotation_size=1 << 20, retention=10, write=os.write))


def test_an_entry_that_cannot_be_encoded_is_recorded_as_dropped(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = _writer(path)
    records: list[dict[str, Any]] = [
        {"time": 1_700_000_000.0, "type": "auth.signin", "outcome": "failure", "n": 1},
        {
            "time": 1_700_000_001.0,
            "type": "http.request",
            "method": "POST",
            "path": "/api/v1/auths/signin",
            "status": 400,
            "client_ip": "203.0.113.9",
            "details": {"why": _Unprintable()},  # fails in redaction
        },
        {"time": 1_700_000_002.0, "type": "odd", "value": {1, 2}},  # fails in the encoder
        {"time": 1_700_000_003.0, "type": "auth.signin", "outcome": "failure", "n": 2},
    ]
    for record in records:
        writer.submit(record, security=True)
    writer.close()
    entries = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [(e["time"], e["type"], e.get("details"), e.get("n")) for e in entries] == [
        ("2023-11-14T22:13:20.000000+00:00", "auth.signin", None, 1),
        (
            "2023-11-14T22:13:21.000000+00:00",
            "audit.entry_dropped",
            {
                "error": "RuntimeError",
                "type": "http.request",
                "method": "POST",
                "path": "/api/v1/auths/signin",
                "status": 400,
                "client_ip": "203.0.113.9",
            },
            None,
        ),
        (
            "2023-11-14T22:13:22.000000+00:00",
            "audit.entry_dropped",
            {"error": "TypeError", "type": "odd"},
            None,
        ),
        ("2023-11-14T22:13:23.000000+00:00", "auth.signin", None, 2),
    ]
    assert verify([path]) == (4, None)
