"""No secret reaches the audit log, and no field can forge or split an entry."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from bastion.audit.redact import MAX_DEPTH, REDACTED, redact_body, redact_text, redact_value
from tests.support import PASSWORD, Bastion, StartBastion
from tests.unit.audit.test_audit_middleware import logged, requests

NEW_PASSWORD = "another long passphrase"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
KEY = "sk-" + "0123456789abcdef" * 3


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _every_log_file(data_dir: Path) -> bytes:
    text = b""
    for file in sorted(data_dir.iterdir()):
        if file.name.startswith("audit.log"):
            data = file.read_bytes()
            text += gzip.decompress(data) if file.suffix == ".gz" else data
    return text


def _pieces(secret: str) -> list[str]:
    """The secret and distinctive parts of it: a cut body must not leak half of one."""
    if secret.startswith("eyJ"):
        _header, payload, signature = secret.split(".")
        return [payload[-16:], signature[:16], signature[-16:]]
    if secret.startswith("sk-"):
        return [secret[3:13], secret[-10:]]
    return [secret, secret[:10], secret[-10:]]


@pytest.mark.parametrize("max_body", ["2048", "45", "70", "100"])
async def test_no_password_token_or_key_in_any_log_file(
    start_bastion: StartBastion, capsys: pytest.CaptureFixture[str], max_body: str
) -> None:
    bastion = await start_bastion(
        {
            "AUDIT_LOG_LEVEL": "REQUEST_RESPONSE",
            "ENABLE_AUDIT_GET_REQUESTS": "true",
            "ENABLE_AUDIT_STDOUT": "true",
            "ENABLE_API_KEYS": "true",
            "MAX_BODY_LOG_SIZE": max_body,
            "AUDIT_LOG_FILE_ROTATION_SIZE": "4KiB",  # rotated, gzip files too
        }
    )
    user = await bastion.signup("a@example.com")
    signin = (await bastion.signin("a@example.com")).json()
    changed = await bastion.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=_auth(signin["token"]),
    )
    assert changed.status_code == 200
    new_token = changed.json()["token"]
    key = (
        await bastion.client.post(
            "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(new_token)
        )
    ).json()["key"]
    await bastion.me(key)
    await bastion.client.get("/api/v1/auths/", headers={"Cookie": f"token={new_token}"})
    await bastion.client.post(
        "/api/v1/auths/signin", content=f"email=a@example.com&password={NEW_PASSWORD}"
    )
    await bastion.client.post("/api/v1/auths/signout", headers=_auth(new_token))
    assert bastion.services.audit.flush(30)

    text = _every_log_file(bastion.settings.server.data_dir).decode() + capsys.readouterr().out
    assert "audit.log." in " ".join(p.name for p in bastion.settings.server.data_dir.iterdir())
    assert "/api/v1/auths/update/password" in text and "api_key.created" in text
    secrets = [PASSWORD, NEW_PASSWORD, user["token"], signin["token"], new_token, key]
    for secret in secrets:
        for piece in _pieces(secret):
            assert piece not in text, f"{piece!r} of a secret is in the audit log"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"new_password": "x"}, {"new_password": REDACTED}),
        (
            {"client_secret": "x", "api_key": 1, "Token": ["a"]},
            dict.fromkeys(("client_secret", "api_key", "Token"), REDACTED),
        ),
        ({"all_tokens": True, "key": None}, {"all_tokens": True, "key": None}),
        ({"nested": [{"refresh_token": "x"}]}, {"nested": [{"refresh_token": REDACTED}]}),
        ({"note": f"use {KEY} now"}, {"note": f"use {REDACTED} now"}),
        ({"note": f"jwt {JWT}"}, {"note": f"jwt {REDACTED}"}),
        ({"h": "Bearer abc.def"}, {"h": REDACTED}),
        ({"desk": "task-force desk-lamp"}, {"desk": "task-force desk-lamp"}),
    ],
)
def test_redact_value(value: Any, expected: Any) -> None:
    assert redact_value(value) == expected


@pytest.mark.parametrize(
    ("body", "truncated", "expected"),
    [
        (
            b'{"email":"a","password":"hunter2"}',
            False,
            ({"email": "a", "password": REDACTED}, None),
        ),
        (b'{"email":"a","password":"hunt', True, ('{"email":"a","password":"[REDACTED]"', None)),
        (
            b'{"new_password": "a \\" b", "x": 1',
            True,
            ('{"new_password": "[REDACTED]", "x": 1', None),
        ),
        (b"email=a&password=hunter2&x=1", False, ("email=a&password=[REDACTED]&x=1", "not_json")),
        (b"Authorization: Bearer abc", False, ("Authorization: [REDACTED]", "not_json")),
        (f"key {KEY[:9]}".encode(), True, (f"key {REDACTED}", None)),
        (JWT[:20].encode(), True, (REDACTED, None)),
        # Cut inside a character: still text, not "invalid UTF-8".
        ("password=h\u00e9".encode()[:-1], True, ("password=[REDACTED]", None)),
        (
            b"password=hunter2&x=\xff\xfe",
            False,
            ("password=[REDACTED]&x=\ufffd\ufffd", "invalid_utf8"),
        ),
        (
            b"[" * 1000 + b'{"password": "hunter2"}' + b"]" * 1000,
            False,
            ("[" * 1000 + '{"password": "[REDACTED]"}' + "]" * 1000, "too_deep"),
        ),
        (
            b"[" * (MAX_DEPTH + 1) + b'"x"' + b"]" * (MAX_DEPTH + 1),
            False,
            ("[" * (MAX_DEPTH + 1) + '"x"' + "]" * (MAX_DEPTH + 1), "too_deep"),
        ),
        (
            b"[" * MAX_DEPTH + b'"x"' + b"]" * MAX_DEPTH,
            False,
            (json.loads("[" * MAX_DEPTH + '"x"' + "]" * MAX_DEPTH), None),
        ),
    ],
)
def test_redact_body_also_when_cut_or_not_json(body: bytes, truncated: bool, expected: Any) -> None:
    assert redact_body(body, truncated) == expected


def test_redact_text_keeps_ordinary_text() -> None:
    assert redact_text("GET /api/v1/chats list") == "GET /api/v1/chats list"


async def _raw_request(bastion: Bastion, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """One request straight through ASGI: headers and paths no HTTP client would send."""
    app = bastion.client._transport.app  # type: ignore[attr-defined]
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return status


async def test_newlines_and_control_characters_cannot_forge_or_split_entries(
    bastion: Bastion,
) -> None:
    forged = '\n{"type":"auth.signin","user_id":"admin"}\r\x1b[2J\u2028\x00'
    await _raw_request(
        bastion,
        "/api/v1/auths/signout" + forged,
        [(b"user-agent", forged.encode("latin-1", "replace")), (b"host", b"testserver")],
    )
    await bastion.signin("ghost" + forged + "@example.com", "wrong password here")
    entries = logged(bastion)
    lines = bastion.settings.audit.audit_logs_file_path.read_bytes().split(b"\n")[:-1]
    assert len(lines) == len(entries) == 3  # request, sign-in event, sign-in request
    assert all(0x20 <= byte < 0x7F for line in lines for byte in line)  # escaped, ASCII
    assert requests(bastion)[0]["path"] == "/api/v1/auths/signout" + forged
    assert requests(bastion)[0]["user_agent"] == forged.encode("latin-1", "replace").decode(
        "latin-1"
    )
    signin = next(entry for entry in entries if entry["type"] == "auth.signin")
    assert signin["details"]["email"] == ("ghost" + forged + "@example.com").lower()
    assert [json.loads(line)["type"] for line in lines].count("auth.signin") == 1
