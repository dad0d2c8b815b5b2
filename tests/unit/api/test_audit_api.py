"""``GET /api/v1/audit/events`` and ``POST /api/v1/security/csp-report``."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion.audit import query
from bastion.audit.events import MemorySink
from bastion.audit.logfile import rotated_files
from tests.support import Bastion, StartBastion
from tests.unit.audit.test_audit_middleware import logged


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _events(bastion: Bastion, token: str, **params: Any) -> dict[str, Any]:
    assert bastion.services.audit.flush(30)
    response = await bastion.client.get("/api/v1/audit/events", params=params, headers=_auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_only_admins_read_the_audit_log(bastion: Bastion) -> None:
    await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    refused = await bastion.client.get("/api/v1/audit/events", headers=_auth(user["token"]))
    assert refused.status_code == 403
    bastion.client.cookies.clear()
    assert (await bastion.client.get("/api/v1/audit/events")).status_code == 401


async def test_events_filter_by_type_user_and_time(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    await bastion.signin("user@example.com", "wrong password here")
    token = admin["token"]

    signups = await _events(bastion, token, type="auth.signup")
    assert [e["user_id"] for e in signups["events"]] == [admin["id"], user["id"]]
    assert signups["next_cursor"] is None
    mine = await _events(bastion, token, user_id=user["id"], type="auth.signin")
    assert [e["outcome"] for e in mine["events"]] == ["failure"]

    everything = (await _events(bastion, token))["events"]
    middle = everything[1]["time"]
    later = await _events(bastion, token, since=middle)
    assert later["events"] == everything[1:]
    earlier = await _events(bastion, token, until=middle)
    assert earlier["events"] == everything[:1]
    naive = middle.removesuffix("+00:00")  # no zone: UTC, as the log
    assert (await _events(bastion, token, since=naive))["events"] == everything[1:]


async def test_paging_is_stable_across_rotation_and_reads_gzip_files(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion({"AUDIT_LOG_FILE_ROTATION_SIZE": "2KiB"})
    admin = await bastion.signup("admin@example.com")
    bastion.client.cookies.clear()  # the sign-outs below are anonymous
    for number in range(10):
        await bastion.client.post("/api/v1/auths/signout", headers={"User-Agent": str(number)})
    first = await _events(bastion, admin["token"], type="http.request", limit=4)
    # The log grows and rotates between the pages: the cursor still holds.
    for number in range(10, 20):
        await bastion.client.post("/api/v1/auths/signout", headers={"User-Agent": str(number)})
    assert rotated_files(bastion.settings.audit.audit_logs_file_path)
    agents = [e["user_agent"] for e in first["events"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = await _events(bastion, admin["token"], type="http.request", limit=4, cursor=cursor)
        agents += [e["user_agent"] for e in page["events"]]
        cursor = page["next_cursor"]
    # The sign-up request came first; then every sign-out, once, in order.
    assert agents == ["python-httpx/0.28.1", *map(str, range(20))]


async def test_an_unknown_cursor_is_refused(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    response = await bastion.client.get(
        "/api/v1/audit/events", params={"cursor": "0" * 64}, headers=_auth(admin["token"])
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


async def test_the_log_is_empty_before_anything_is_written(
    start_bastion: StartBastion, tmp_path: Path
) -> None:
    bastion = await start_bastion({"AUDIT_LOGS_FILE_PATH": str(tmp_path / "new" / "audit.log")})
    assert query.search(bastion.settings.audit.audit_logs_file_path, query.Filter(), limit=10) == (
        [],
        None,
    )


async def test_the_api_answers_404_when_the_log_file_is_off(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"ENABLE_AUDIT_LOGS_FILE": "false"})
    admin = await bastion.signup("admin@example.com")
    response = await bastion.client.get("/api/v1/audit/events", headers=_auth(admin["token"]))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_bastion_keeps_answering_on_a_full_disk_and_resumes(bastion: Bastion) -> None:
    sink = MemorySink()
    bastion.services.events.add_sink(sink)
    log_file = bastion.services.audit.log_file
    assert log_file is not None
    bastion.services.audit.retry_interval = 0.001
    full = True

    def write(fd: int, data: memoryview) -> int:
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)

    log_file.os_write = write
    admin = await bastion.signup("admin@example.com")
    for _ in range(3):
        answer = await bastion.client.post("/api/v1/auths/signout")
        assert answer.status_code == 200
    assert not bastion.services.audit.flush(0.05)  # stuck, not lost
    full = False
    types = [entry["type"] for entry in logged(bastion)]
    assert types.count("http.request") == 4 and "auth.signup" in types
    assert types.count("audit.write_failed") == 1
    assert [e.details["error"] for e in sink.of_type("audit.write_failed")] == [
        "No space left on device"
    ]
    assert admin["role"] == "admin"


CSP_REPORT = {
    "csp-report": {
        "document-uri": "https://chat.example.com/c/1",
        "violated-directive": "script-src-elem",
        "blocked-uri": "https://evil.example/x.js",
        "line-number": 3,
        "original-policy": "x" * 5000,
        "script-sample": "steal()",
    }
}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/csp-report", CSP_REPORT),
        (
            "application/reports+json",
            [
                {
                    "type": "csp-violation",
                    "body": {
                        "documentURL": "https://chat.example.com/c/1",
                        "effectiveDirective": "script-src-elem",
                        "blockedURL": "https://evil.example/x.js",
                        "lineNumber": 3,
                    },
                },
                {"type": "deprecation", "body": {"id": "x"}},
            ],
        ),
    ],
)
async def test_csp_reports_are_recorded_with_bounded_fields(
    bastion: Bastion, content_type: str, body: Any
) -> None:
    response = await bastion.client.post(
        "/api/v1/security/csp-report",
        content=json.dumps(body),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 204
    (event,) = [e for e in logged(bastion) if e["type"] == "csp.report"]
    assert event["details"] == {
        "blockedURL": "https://evil.example/x.js",
        "documentURL": "https://chat.example.com/c/1",
        "effectiveDirective": "script-src-elem",
        "lineNumber": 3,
    }


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"{}", 415),
        ("application/csp-report", b"not json", 400),
        ("application/csp-report", b'{"csp-report": "x"}', 400),
        ("application/csp-report", b'{"csp-report": {"a": "' + b"x" * 20000 + b'"}}', 413),
    ],
)
async def test_bad_csp_reports_are_refused(
    bastion: Bastion, content_type: str, body: bytes, status: int
) -> None:
    response = await bastion.client.post(
        "/api/v1/security/csp-report", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == status
    assert not [e for e in logged(bastion) if e["type"] == "csp.report"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/csp-report", {"csp-report": {"document-uri": "http://testserver/"}}),
        (
            "application/reports+json",
            [{"type": "csp-violation", "body": {"documentURL": "http://testserver/"}}],
        ),
    ],
)
async def test_a_signed_in_browser_reports_without_a_csrf_token(
    bastion: Bastion, content_type: str, body: Any
) -> None:
    # Chromium sends report-uri posts with the session cookie, never with X-CSRF-Token.
    user = await bastion.signup("reporter@example.com")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bastion.app),
        base_url="http://testserver",
        cookies={"token": user["token"]},
    ) as browser:
        response = await browser.post(
            "/api/v1/security/csp-report",
            content=json.dumps(body),
            headers={"Content-Type": content_type, "Origin": "http://testserver"},
        )
        refused = await browser.post("/api/v1/chats/new", json={})
    assert response.status_code == 204
    assert [e["details"] for e in logged(bastion) if e["type"] == "csp.report"] == [
        {"documentURL": "http://testserver/"}
    ]
    # Everywhere else the cookie still needs its token.
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
