"""Hostile request headers (undecodable bytes, broken IPv6 literals, forged forwarding,
huge tokens, impossible ranges) at the routes everyone reaches: never a 5xx, never an
exception out of the app."""

from __future__ import annotations

import pytest

from tests.support import Bastion, StartBastion, client_from

ROUTES = [
    ("GET", "/"),
    ("GET", "/auth"),
    ("GET", "/health"),
    ("GET", "/api/v1/auths/"),
    ("POST", "/api/v1/auths/signin"),
    ("POST", "/api/v1/auths/signout"),
    ("GET", "/api/models"),
    ("POST", "/api/chat/completions"),
    ("GET", "/api/v1/chats/"),
    ("GET", "/api/v1/files/nothing/content"),
    ("GET", "/oauth/oidc/login"),
    ("POST", "/api/v1/auths/mfa/webauthn/register/options"),
    ("GET", "/static/css/app.css"),
]
VALUES: list[bytes] = [
    b"\xff\xfe\x00",
    b"http://[::1",
    b"https://a:99999",
    b"null",
    b"Bearer",
    b"Bearer " + b"a" * 8000,
    b"Bearer sk-\xff\xff",
    b"Basic \xff==",
    b"token=\xff; token=; =; ;;",
    b"1.1.1.1, [::1, unknown, 999.1.1.1",
    b'for="[::1";proto=gopher;host=\xff',
    b"bytes=99999999999999999999-",
    b"gzip;q=nan, br;q=1e400",
    b"multipart/form-data; boundary=",
    b"application/json; charset=ebcdic",
    b'W/"\xff", *',
    b"\xe2\x80\xae" * 100,
    b"a" * 16000,
]
NAMES = [
    b"host", b"origin", b"referer", b"cookie", b"authorization", b"x-forwarded-for",
    b"forwarded", b"x-forwarded-proto", b"x-real-ip", b"content-type", b"accept",
    b"accept-encoding", b"accept-language", b"user-agent", b"range", b"if-none-match",
    b"x-csrf-token", b"sec-fetch-site", b"content-length",
]  # fmt: skip


@pytest.fixture
async def bastion(start_bastion: StartBastion) -> Bastion:
    return await start_bastion(
        {"FORWARDED_ALLOW_IPS": "127.0.0.1", "WEBUI_URL": "http://testserver"}
    )


async def test_hostile_headers_never_get_a_server_error(bastion: Bastion) -> None:
    failures = []
    statuses: set[int] = set()
    async with client_from(bastion, "127.0.0.1") as client:
        for name in NAMES:
            for value in VALUES:
                for method, path in ROUTES:
                    request = client.build_request(method, path, content=b"{}")
                    request.headers[name.decode()] = value.decode("latin-1")
                    answer = await client.send(request)
                    statuses.add(answer.status_code)
                    if answer.status_code >= 500:
                        failures.append((name, value[:40], method, path, answer.status_code))
    assert failures == []
    assert len(statuses) > 5  # the values reached different checks, not one early refusal
