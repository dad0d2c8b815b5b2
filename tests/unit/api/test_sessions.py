"""Sessions through the API: listed with the current one marked, revoked one by one (only
that token refused), ended by idleness and age on an injected clock, their last activity
written at most once a minute, and recorded as events."""

from __future__ import annotations

import jwt
import pytest

from bastion.audit.events import MemorySink
from bastion.auth.tokens import ALGORITHM, AUDIENCE, ISSUER
from tests.support import PASSWORD, Bastion, Clock, StartBastion, spare_admin, sql_statements

FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
T0 = 1_800_000_000.0


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def start(start_bastion: StartBastion, clock: Clock, sink: MemorySink):
    async def start_with(env: dict[str, str] | None = None) -> Bastion:
        return await start_bastion(env, clock=clock, sinks=[sink])

    return start_with


def _auth(token: str, user_agent: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if user_agent is not None:
        headers["User-Agent"] = user_agent
    return headers


async def _signin(bastion: Bastion, email: str, user_agent: str) -> str:
    answer = await bastion.client.post(
        "/api/v1/auths/signin",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": user_agent},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


async def _sessions(bastion: Bastion, token: str) -> list[dict]:
    answer = await bastion.client.get("/api/v1/auths/sessions", headers=_auth(token))
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def _sid(bastion: Bastion, token: str) -> str:
    return bastion.services.tokens.verify(token).sid


async def test_sessions_are_listed_with_device_browser_and_the_current_one_marked(
    start, sink: MemorySink
) -> None:
    bastion = await start()
    await bastion.signup("ada@example.com")
    laptop = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    phone = await _signin(bastion, "ada@example.com", CHROME_ANDROID)

    listed = await _sessions(bastion, phone)

    by_id = {item["id"]: item for item in listed}
    assert set(by_id) >= {_sid(bastion, laptop), _sid(bastion, phone)}
    mine, other = by_id[_sid(bastion, phone)], by_id[_sid(bastion, laptop)]
    assert (mine["device"], mine["browser"], mine["current"]) == ("Android", "Chrome 131", True)
    assert (other["device"], other["browser"], other["current"]) == (
        "macOS",
        "Firefox 133",
        False,
    )
    assert mine["method"] == "password" and mine["ip"] == "127.0.0.1"
    assert set(mine) == {
        "id",
        "created_at",
        "last_active_at",
        "ip",
        "device",
        "browser",
        "method",
        "current",
    }
    created = sink.of_type("session.created")
    assert [event.details["session_id"] for event in created][-2:] == [
        _sid(bastion, laptop),
        _sid(bastion, phone),
    ]
    assert created[-1].details["method"] == "password"


async def test_revoking_one_session_refuses_only_its_token(start, sink: MemorySink) -> None:
    bastion = await start()
    await bastion.signup("ada@example.com")
    laptop = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    phone = await _signin(bastion, "ada@example.com", CHROME_ANDROID)
    assert (await bastion.me(laptop)).status_code == 200

    revoked = await bastion.client.delete(
        f"/api/v1/auths/sessions/{_sid(bastion, laptop)}", headers=_auth(phone)
    )

    assert revoked.status_code == 200
    refused = await bastion.me(laptop)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert (await bastion.me(phone)).status_code == 200
    assert _sid(bastion, laptop) not in {item["id"] for item in await _sessions(bastion, phone)}
    [event] = sink.of_type("session.revoked")
    assert event.details["session_id"] == _sid(bastion, laptop)
    assert event.details["reason"] == "revoked"
    again = await bastion.client.delete(
        f"/api/v1/auths/sessions/{_sid(bastion, laptop)}", headers=_auth(phone)
    )
    assert again.status_code == 404 and again.json()["code"] == "session_not_found"


async def test_revoke_others_keeps_only_the_current_session(start, sink: MemorySink) -> None:
    bastion = await start()
    first = (await bastion.signup("ada@example.com"))["token"]
    second = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    third = await _signin(bastion, "ada@example.com", CHROME_ANDROID)

    answer = await bastion.client.post(
        "/api/v1/auths/sessions/revoke-others", headers=_auth(second)
    )

    assert answer.json() == {"status": True, "revoked": 2}
    assert [(await bastion.me(token)).status_code for token in (first, second, third)] == [
        401,
        200,
        401,
    ]
    assert [item["id"] for item in await _sessions(bastion, second)] == [_sid(bastion, second)]
    assert len(sink.of_type("session.revoked")) == 2


async def test_a_user_cannot_revoke_someone_elses_session_but_an_admin_can(
    start, sink: MemorySink
) -> None:
    bastion = await start()
    admin = (await bastion.signup("admin@example.com"))["token"]
    await bastion.signup("ada@example.com")
    await bastion.client.post(
        "/api/v1/auths/add",
        json={"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "role": "user"},
        headers=_auth(admin),
    )
    ada = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    bob = await _signin(bastion, "bob@example.com", CHROME_ANDROID)
    ada_sid = _sid(bastion, ada)

    refused = await bastion.client.delete(f"/api/v1/auths/sessions/{ada_sid}", headers=_auth(bob))
    assert refused.status_code == 404 and refused.json()["code"] == "session_not_found"
    assert (await bastion.me(ada)).status_code == 200
    ada_id = (await bastion.me(ada)).json()["id"]
    not_admin = await bastion.client.get(f"/api/v1/users/{ada_id}/sessions", headers=_auth(bob))
    assert not_admin.status_code == 403

    listed = await bastion.client.get(f"/api/v1/users/{ada_id}/sessions", headers=_auth(admin))
    assert ada_sid in {item["id"] for item in listed.json()}
    assert not any(item["current"] for item in listed.json())
    revoked = await bastion.client.delete(
        f"/api/v1/users/{ada_id}/sessions/{ada_sid}", headers=_auth(admin)
    )

    assert revoked.status_code == 200
    assert (await bastion.me(ada)).status_code == 401
    assert (await bastion.me(bob)).status_code == 200
    [event] = sink.of_type("session.revoked")
    assert (event.details["target_user_id"], event.details["reason"]) == (
        ada_id,
        "revoked_by_admin",
    )
    elsewhere = await bastion.client.delete(
        f"/api/v1/users/{ada_id}/sessions/{_sid(bastion, bob)}", headers=_auth(admin)
    )
    assert elsewhere.status_code == 404


async def test_an_idle_session_expires_after_the_idle_timeout(
    start, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start({"SESSION_IDLE_TIMEOUT": "1h"})
    token = (await bastion.signup("ada@example.com"))["token"]
    other = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    for _ in range(3):  # used every 50 minutes: never idle for an hour
        clock.advance(50 * 60)
        assert (await bastion.me(token)).status_code == 200
    # An hour and a minute (the resolution of last activity) without a request.
    clock.advance(3600 + 60)
    assert (await bastion.me(token)).status_code == 200  # the hour is not yet passed
    clock.advance(3600 + 61)

    expired = await bastion.me(token)

    assert expired.status_code == 401 and expired.json()["code"] == "session_expired"
    again = await bastion.me(token)
    assert again.status_code == 401 and again.json()["code"] == "token_revoked"
    [event] = sink.of_type("session.expired")
    assert (event.details["session_id"], event.details["reason"]) == (
        _sid(bastion, token),
        "idle",
    )
    # The other session was idle as long: it expires too, and the list no longer has it.
    assert (await bastion.me(other)).json()["code"] == "session_expired"


async def test_a_session_in_use_still_ends_at_the_absolute_timeout(
    start, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start({"SESSION_ABSOLUTE_TIMEOUT": "2d", "JWT_EXPIRES_IN": "7d"})
    token = (await bastion.signup("ada@example.com"))["token"]
    for _ in range(47):
        clock.advance(3600)
        assert (await bastion.me(token)).status_code == 200
    clock.advance(3599)
    assert (await bastion.me(token)).status_code == 200
    clock.advance(1)

    expired = await bastion.me(token)

    assert expired.status_code == 401 and expired.json()["code"] == "session_expired"
    [event] = sink.of_type("session.expired")
    assert event.details["reason"] == "absolute"


async def test_last_activity_is_written_at_most_once_a_minute(start, clock: Clock) -> None:
    bastion = await start()
    token = (await bastion.signup("ada@example.com"))["token"]
    sessions = bastion.services.sessions

    def writes(statements: list[str]) -> int:
        return sum(s.startswith("UPDATE sessions SET last_active_at") for s in statements)

    with sql_statements(bastion) as seen:
        counted = []
        for _minute in range(3):
            for _ in range(6):  # every 10 s
                assert (await bastion.me(token)).status_code == 200
                clock.advance(10)
            await sessions.activity.flush()
            counted.append(writes(seen))
    # None in the minute of sign-in (that was its activity), then one each minute.
    assert counted == [0, 1, 2]
    [listed] = await _sessions(bastion, token)
    assert listed["last_active_at"] == "2027-01-15T08:02:00+00:00"


async def test_sign_out_and_password_change_end_the_sessions(start) -> None:
    bastion = await start()
    first = (await bastion.signup("ada@example.com"))["token"]
    second = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    third = await _signin(bastion, "ada@example.com", CHROME_ANDROID)
    await bastion.client.post("/api/v1/auths/signout", headers=_auth(first))
    record = await bastion.services.sessions.store.get(_sid(bastion, first))
    assert record is not None and record.end_reason == "signout"

    changed = await bastion.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "another long passphrase"},
        headers=_auth(second),
    )

    fresh = changed.json()["token"]
    listed = await _sessions(bastion, fresh)
    assert [(item["id"], item["current"]) for item in listed] == [(_sid(bastion, fresh), True)]
    ended = await bastion.services.sessions.store.get(_sid(bastion, third))
    assert ended is not None and ended.end_reason == "all_revoked"


async def test_disabling_an_account_shows_its_sessions_ended(start) -> None:
    bastion = await start()
    admin = (await bastion.signup("admin@example.com"))["token"]
    await spare_admin(bastion)
    await bastion.signup("ada@example.com")
    ada = await _signin(bastion, "ada@example.com", FIREFOX_MAC)
    ada_id = (await bastion.me(ada)).json()["id"]

    await bastion.client.post(f"/api/v1/users/{ada_id}/disable", headers=_auth(admin))

    listed = await bastion.client.get(f"/api/v1/users/{ada_id}/sessions", headers=_auth(admin))
    assert listed.json() == []
    assert (await bastion.me(ada)).status_code == 401


async def test_a_token_from_before_sessions_is_refused(start) -> None:
    bastion = await start()
    user = await bastion.signup("ada@example.com")
    legacy = jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": "access",
            "sub": user["id"],
            "iat": int(T0),
            "exp": int(T0) + 3600,
            "jti": "a" * 32,
            "ver": 0,
        },
        bastion.settings.auth.secret_key,
        algorithm=ALGORITHM,
    )

    refused = await bastion.me(legacy)

    assert refused.status_code == 401 and refused.json()["code"] == "token_invalid"


async def test_api_keys_are_not_sessions(start) -> None:
    bastion = await start({"ENABLE_API_KEYS": "true", "USER_PERMISSIONS_FEATURES_API_KEYS": "true"})
    token = (await bastion.signup("ada@example.com"))["token"]
    created = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(token)
    )
    assert created.status_code == 200, created.text
    key = created.json()["api_key"]
    assert (await bastion.me(key)).status_code == 200

    answer = await bastion.client.get("/api/v1/auths/sessions", headers=_auth(key))

    assert answer.status_code == 400 and answer.json()["code"] == "not_a_session"
    assert len(await _sessions(bastion, token)) == 1


async def test_workers_without_redis_agree_on_revocation_and_activity_through_the_database(
    start, clock: Clock
) -> None:
    # Two workers on one database and no Redis: nothing is cached, the database decides.
    env = {"WORKERS": "2", "SESSION_IDLE_TIMEOUT": "1h"}
    first = await start(env)
    second = await start(env)
    kept = (await first.signup("ada@example.com"))["token"]
    revoked = await _signin(first, "ada@example.com", FIREFOX_MAC)
    assert (await second.me(revoked)).status_code == 200
    await first.client.delete(f"/api/v1/auths/sessions/{_sid(first, revoked)}", headers=_auth(kept))
    assert (await second.me(revoked)).status_code == 401
    # Used on the first worker only: the second sees that activity in the database.
    for _ in range(3):
        clock.advance(50 * 60)
        assert (await first.me(kept)).status_code == 200
        await first.services.sessions.activity.flush()
    assert (await second.me(kept)).status_code == 200
