"""Request entries through a running instance: levels, path rules, who/what/where, bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bastion.audit import query
from tests.support import Bastion, StartBastion


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def logged(bastion: Bastion) -> list[dict[str, Any]]:
    """Everything in the instance's audit log (current and rotated files)."""
    assert bastion.services.audit.flush(30)
    return list(query.entries(bastion.settings.audit.audit_logs_file_path))


def requests(bastion: Bastion) -> list[dict[str, Any]]:
    return [entry for entry in logged(bastion) if entry["type"] == "http.request"]


def paths(bastion: Bastion) -> list[tuple[str, str]]:
    return [(entry["method"], entry["path"]) for entry in requests(bastion)]


async def test_metadata_entry_says_who_did_what_from_where(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    await bastion.client.post(
        "/api/v1/auths/signout?next=/secret-query",
        headers={
            **_auth(admin["token"]),
            "User-Agent": "audit-test/1.0",
            "X-Forwarded-For": "203.0.113.7",  # from the trusted proxy 127.0.0.1
        },
    )
    entry = requests(bastion)[-1]
    duration = entry.pop("duration_ms")
    assert isinstance(duration, float) and duration >= 0
    assert entry["time"].endswith("+00:00")
    assert {k: v for k, v in entry.items() if k not in {"time", "prev", "hash"}} == {
        "type": "http.request",
        "user_id": admin["id"],
        "role": "admin",
        "api_key_id": None,
        "method": "POST",
        "path": "/api/v1/auths/signout",
        "status": 200,
        "client_ip": "203.0.113.7",
        "user_agent": "audit-test/1.0",
    }


async def test_api_key_requests_name_the_key(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"ENABLE_API_KEYS": "true"})
    user = await bastion.signup("k@example.com")
    key = (
        await bastion.client.post(
            "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(user["token"])
        )
    ).json()
    await bastion.client.post("/api/v1/auths/signout", headers=_auth(key["key"]))
    entry = requests(bastion)[-1]
    assert (entry["user_id"], entry["api_key_id"]) == (user["id"], key["id"])


async def test_get_requests_are_audited_only_when_enabled(start_bastion: StartBastion) -> None:
    off = await start_bastion()
    await off.client.get("/health")
    await off.client.post("/api/v1/auths/signout")
    assert paths(off) == [("POST", "/api/v1/auths/signout")]

    on = await start_bastion({"ENABLE_AUDIT_GET_REQUESTS": "true"})
    await on.client.get("/health")
    assert paths(on)[-1] == ("GET", "/health")


async def test_level_none_writes_no_request_entries_but_every_security_event(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion({"AUDIT_LOG_LEVEL": "NONE", "ENABLE_AUDIT_GET_REQUESTS": "true"})
    user = await bastion.signup("a@example.com")
    await bastion.signin("a@example.com", "wrong password here")
    await bastion.client.post("/api/v1/auths/signout", headers=_auth(user["token"]))
    types = [entry["type"] for entry in logged(bastion)]
    assert types == [
        "auth.signup",
        "session.created",
        "auth.signin",
        "auth.signout",
        "auth.token_revoked",
    ]


async def test_metadata_level_logs_no_bodies(bastion: Bastion) -> None:
    await bastion.signup("a@example.com")
    entry = requests(bastion)[-1]
    assert "request_body" not in entry and "response_body" not in entry


async def test_request_level_logs_the_request_body_only(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"AUDIT_LOG_LEVEL": "REQUEST"})
    await bastion.client.post("/api/v1/auths/signout", json={"note": "bye"})
    entry = requests(bastion)[-1]
    assert entry["request_body"] == {"note": "bye"}
    assert entry["request_body_truncated"] is False
    assert "response_body" not in entry


async def test_request_response_level_logs_both_bodies_cut_at_the_cap(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion(
        {"AUDIT_LOG_LEVEL": "REQUEST_RESPONSE", "MAX_BODY_LOG_SIZE": "10"}
    )
    await bastion.client.post(
        "/api/v1/auths/signout",
        content=b"0123456789abcdef",
        headers={"Content-Type": "application/json"},
    )
    entry = requests(bastion)[-1]
    assert (entry["request_body"], entry["request_body_truncated"]) == ("0123456789", True)
    assert (entry["response_body"], entry["response_body_truncated"]) == ('{"status":', True)


async def test_a_streamed_body_is_never_held_beyond_the_cap(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"AUDIT_LOG_LEVEL": "REQUEST", "MAX_BODY_LOG_SIZE": "8"})

    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1000

    await bastion.client.post(
        "/api/v1/auths/signout", content=chunks(), headers={"Content-Type": "application/json"}
    )
    entry = requests(bastion)[-1]
    assert (entry["request_body"], entry["request_body_truncated"]) == ("xxxxxxxx", True)


async def test_requests_refused_before_the_app_are_audited_with_their_status(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion({"MAX_REQUEST_BODY_SIZE": "100"})
    answer = await bastion.client.post("/api/v1/auths/signin", content=b"x" * 101)
    assert answer.status_code == 413
    entry = requests(bastion)[-1]
    assert (entry["path"], entry["status"]) == ("/api/v1/auths/signin", 413)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["/api/v1/auths/signout", "/api/v1/users/x/disable"]),
        ({"AUDIT_EXCLUDED_PATHS": "/api/v1/users"}, ["/api/v1/auths/signout"]),
        ({"AUDIT_EXCLUDED_PATHS": "users"}, ["/api/v1/auths/signout"]),  # open-webui form
        (  # segment-wise: /api/v1/use is not a prefix of /api/v1/users
            {"AUDIT_EXCLUDED_PATHS": "/api/v1/use"},
            ["/api/v1/auths/signout", "/api/v1/users/x/disable"],
        ),
        ({"AUDIT_INCLUDED_PATHS": "/api/v1/users"}, ["/api/v1/users/x/disable"]),
        (
            {"AUDIT_INCLUDED_PATHS": "auths", "AUDIT_EXCLUDED_PATHS": "auths"},  # included wins
            ["/api/v1/auths/signout"],
        ),
    ],
)
async def test_included_and_excluded_paths(
    start_bastion: StartBastion, env: dict[str, str], expected: list[str]
) -> None:
    bastion = await start_bastion(env)
    await bastion.client.post("/api/v1/auths/signout")
    await bastion.client.post("/api/v1/users/x/disable")
    assert [path for _, path in paths(bastion)] == expected


async def test_stdout_carries_the_same_lines_as_the_file(
    start_bastion: StartBastion, capsys: pytest.CaptureFixture[str]
) -> None:
    bastion = await start_bastion({"ENABLE_AUDIT_STDOUT": "true"})
    await bastion.client.post("/api/v1/auths/signout")
    assert bastion.services.audit.flush(30)
    file_text = bastion.settings.audit.audit_logs_file_path.read_text()
    assert capsys.readouterr().out == file_text


async def test_file_can_be_turned_off(start_bastion: StartBastion, tmp_path: Path) -> None:
    bastion = await start_bastion(
        {"ENABLE_AUDIT_LOGS_FILE": "false", "AUDIT_LOGS_FILE_PATH": str(tmp_path / "a.log")}
    )
    await bastion.signup("a@example.com")
    assert bastion.services.audit.flush(30)
    assert not (tmp_path / "a.log").exists()
