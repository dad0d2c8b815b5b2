"""Random bodies at every route that takes one: never a 5xx, never a lost audit entry.

One Bastion under uvicorn serves the whole run (real HTTP, the full middleware stack,
audit at ``REQUEST_RESPONSE`` with GETs included), signed in as its administrator with a
bearer token, so that every route is reached past authentication. The bodies are what an
attacker sends: nested thousands deep, thousands wide, over the size limit, invalid
UTF-8, and valid JSON of the wrong shape with the field names the routes use.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.app import create_app
from bastion.audit.coalesce import REFUSAL_STATUSES
from bastion.audit.logfile import rotated_files
from bastion.config import load_settings
from bastion.services import Services
from tests.fake_upstreams import serve
from tests.support import PASSWORD, CountingHasher

SMALLEST_BODY_CAP = 8 * 1024  # the CSP report route's; MAX_REQUEST_BODY_SIZE is 1 MiB
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Ends the administrator's own sign-in: every later example would only test the 401.
NOT_FUZZED = {("POST", "/api/v1/auths/signout")}
FIELD_NAMES = [
    "name", "email", "password", "new_password", "title", "chat", "history", "messages",
    "models", "files", "model", "stream", "url", "role", "user_ids", "groups", "expires_at",
    "csp-report", "content", "tags", "folder_id", "id", "share_id", "options",
]  # fmt: skip


@dataclass
class Target:
    url: str
    log_dir: Path
    services: Services
    auth: dict[str, str]
    endpoints: list[tuple[str, str]]


def _endpoints(app: FastAPI, chat_id: str) -> list[tuple[str, str]]:
    """Every unsafe method of every route, from the OpenAPI schema, path parameters filled."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method in sorted(name.upper() for name in operations if name.upper() in UNSAFE):
            if (method, path) in NOT_FUZZED:
                continue

            # The chat's own id for chat routes (its stored JSON is what gets poisoned),
            # but not for DELETE, which would end the fuzzing of the others.
            def fill(match: re.Match[str], method: str = method, path: str = path) -> str:
                if path.startswith("/api/v1/chats") and method != "DELETE":
                    return chat_id
                return "model-x" if match.group(1).startswith("model") else str(uuid.uuid4())

            found.append((method, re.sub(r"\{([^}]+)\}", fill, path)))
    return found


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = tmp_path_factory.mktemp("fuzz") / "data"
    settings_ = load_settings(
        {
            "DATA_DIR": str(data),
            "AUDIT_LOG_LEVEL": "REQUEST_RESPONSE",
            "ENABLE_AUDIT_GET_REQUESTS": "true",
            "ENABLE_API_KEYS": "true",
            "API_RATE_LIMIT_USER": "100000/1m",
            "COSTLY_RATE_LIMIT": "100000/1m",
            "SIGNUP_RATE_LIMIT": "100000/1h",
            "CONTENT_SECURITY_POLICY_REPORT_ONLY": "default-src 'self'",
        }
    )
    services = Services.build(settings_, hasher=CountingHasher())
    app = create_app(settings_, services=services)
    with serve(app, lifespan="on") as url, httpx.Client(base_url=url) as client:
        admin = client.post(
            "/api/v1/auths/signup",
            json={"name": "Admin", "email": "admin@example.com", "password": PASSWORD},
        )
        assert admin.status_code == 200, admin.text
        auth = {"Authorization": f"Bearer {admin.json()['token']}"}
        chat = client.post(
            "/api/v1/chats/new",
            json={"chat": {"title": "Kept", "history": {"messages": {}}, "models": ["m"]}},
            headers=auth,
        )
        assert chat.status_code == 200, chat.text
        yield Target(url, data, services, auth, _endpoints(app, chat.json()["id"]))


class Body(bytes):
    """A body whose repr stays short: a failing example of a megabyte is reported readably."""

    def __repr__(self) -> str:
        shown = bytes(self[:80])
        return f"Body({shown!r}{'…' if len(self) > 80 else ''}, {len(self)} bytes)"


def _deep(depth: int, opener: str) -> bytes:
    if opener == "[":
        return b"[" * depth + b"]" * depth
    if opener == "{":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # never closed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)

bodies = st.one_of(
    st.builds(_deep, st.integers(1, 60_000), st.sampled_from(["[", "{", "unclosed"])),
    st.integers(1, 30_000).map(
        lambda width: json.dumps({f"k{i}": [i] for i in range(width)}).encode()
    ),
    st.integers(900_000, 1_300_000).map(lambda size: json.dumps({"name": "x" * size}).encode()),
    st.binary(max_size=2_000),
    st.binary(max_size=200).map(lambda raw: b'{"name": "' + raw + b'"}'),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, min_size=1, max_size=8).map(
        lambda value: json.dumps(value).encode()
    ),
    st.fixed_dictionaries({"chat": st.dictionaries(st.sampled_from(FIELD_NAMES), json_values)}).map(
        lambda value: json.dumps(value).encode()
    ),
)


bodies = bodies.map(Body)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(
    body=bodies,
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain"]
    ),
)
def test_no_body_gets_a_server_error_at_any_route(
    target: Target, body: bytes, content_type: str
) -> None:
    """Each drawn body goes to every route: no route is left to chance."""
    headers = {**target.auth, "Content-Type": content_type, "User-Agent": "fuzz"}
    with httpx.Client(base_url=target.url, headers=headers, timeout=60) as client:
        for method, path in target.endpoints:
            try:
                response = client.request(method, path, content=body)
            except httpx.TransportError:
                # Over a route's size limit the server answers 413 and closes without
                # reading the rest, so a client still sending may see the reset instead.
                assert len(body) > SMALLEST_BODY_CAP, (method, path)
                assert client.get("/health").status_code == 200
                continue
            assert response.status_code < 500, (method, path, response.text[:300])
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                assert isinstance(response.json()["detail"], str), (method, path)


def test_after_the_fuzzing_every_request_is_audited_and_the_server_answers(
    target: Target,
) -> None:
    """Tagged requests after the fuzzing (file order), each then found in the audit log."""
    tags: dict[str, tuple[str, str, int]] = {}
    with httpx.Client(base_url=target.url, headers=target.auth, timeout=60) as client:
        for body in (_deep(5_000, "["), b"\xff\xfe{", b'{"title": 1}'):
            for method, path in target.endpoints[:: max(1, len(target.endpoints) // 12)]:
                tag = f"fuzz-{len(tags)}"
                response = client.request(
                    method,
                    path,
                    content=body,
                    headers={"Content-Type": "application/json", "User-Agent": tag},
                )
                assert response.status_code < 500, (method, path, response.text[:300])
                tags[tag] = (method, path, response.status_code)
        assert client.get("/health").json() == {"status": True}
        assert client.get("/api/v1/auths/").status_code == 200
    assert target.services.audit.flush(timeout=30)
    logged: set[str] = set()
    folded: dict[int, int] = {}  # refusals counted in audit.coalesced entries, by status
    current = target.log_dir / "audit.log"
    for path in [*rotated_files(current), current]:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            logged.add(entry.get("user_agent"))
            assert entry.get("type") not in {"audit.dropped", "audit.entry_dropped"}, entry
            details = entry.get("details") or {}
            if entry.get("type") == "audit.coalesced" and details.get("of") == "http.request":
                folded[details["status"]] = folded.get(details["status"], 0) + details["count"]
    # Refusals repeated within a minute are counted rather than written again: those not
    # found by their tag must be covered by the counts of their status.
    missing = [endpoint for tag, endpoint in tags.items() if tag not in logged]
    for status in REFUSAL_STATUSES:
        uncounted = sum(1 for endpoint in missing if endpoint[2] == status)
        assert uncounted <= folded.get(status, 0), (status, missing)
    assert [endpoint for endpoint in missing if endpoint[2] not in REFUSAL_STATUSES] == []
