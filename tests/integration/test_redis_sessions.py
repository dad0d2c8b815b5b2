"""Sessions on a real Redis shared by two instances: a session revoked on one is refused
by the other at once, also after a Redis fault; the idle check and last activity are
kept in the token check's one round trip, written once a minute across both."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from tests.integration.redis_server import RedisServer
from tests.support import PASSWORD, Bastion, Clock, sql_statements

REDIS_TIMEOUT = {"REDIS_TIMEOUT": "200ms", "REDIS_RETRY_INTERVAL": "5s"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def start(start_bastion, clock: Clock, sink: MemorySink):
    async def start_on(url: str, env: dict[str, str] | None = None) -> Bastion:
        return await start_bastion(
            {"REDIS_URL": url, **REDIS_TIMEOUT, **(env or {})}, clock=clock, sinks=[sink]
        )

    return start_on


async def _two_sessions(bastion: Bastion) -> tuple[str, str]:
    first = (await bastion.signup("user@example.com"))["token"]
    answer = await bastion.signin("user@example.com", PASSWORD)
    return first, str(answer.json()["token"])


def _sid(bastion: Bastion, token: str) -> str:
    return bastion.services.tokens.verify(token).sid


async def test_session_revoked_on_one_instance_is_refused_by_the_other(
    start, redis_url: str, sink: MemorySink
) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    kept, revoked = await _two_sessions(first)
    assert (await second.me(revoked)).status_code == 200

    answer = await first.client.delete(
        f"/api/v1/auths/sessions/{_sid(first, revoked)}", headers=_auth(kept)
    )

    assert answer.status_code == 200
    refused = await second.me(revoked)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert (await second.me(kept)).status_code == 200
    assert len(sink.of_type("session.revoked")) == 1


async def test_session_revoked_while_redis_was_slow_is_refused_where_it_is_trusted(
    start, redis_process: RedisServer
) -> None:
    first = await start(redis_process.url)
    second = await start(redis_process.url)
    kept, revoked = await _two_sessions(first)
    assert (await second.me(revoked)).status_code == 200
    redis_process.pause()
    try:
        # One slow reply: the first instance leaves Redis for its retry interval.
        assert (await first.me(kept)).status_code == 200
    finally:
        redis_process.resume()

    await first.client.delete(f"/api/v1/auths/sessions/{_sid(first, revoked)}", headers=_auth(kept))

    # The second never saw Redis fail and still trusts it: the revocation must be there.
    assert redis_process.command("EXISTS", f"bastion:revoked:{_sid(first, revoked)}") == ":1"
    assert (await second.me(revoked)).status_code == 401
    assert (await first.me(revoked)).status_code == 401
    assert (await second.me(kept)).status_code == 200


async def test_session_revoked_survives_redis_restarted_empty(
    start, redis_process: RedisServer
) -> None:
    first = await start(redis_process.url)
    kept, revoked = await _two_sessions(first)
    await first.client.delete(f"/api/v1/auths/sessions/{_sid(first, revoked)}", headers=_auth(kept))
    redis_process.restart()

    assert (await first.me(revoked)).status_code == 401
    assert (await first.me(kept)).status_code == 200


async def test_last_activity_is_written_once_a_minute_across_instances(
    start, redis_url: str, clock: Clock
) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    token = (await first.signup("user@example.com"))["token"]

    def writes(statements: list[str]) -> int:
        return sum(s.startswith("UPDATE sessions SET last_active_at") for s in statements)

    with sql_statements(first) as on_first, sql_statements(second) as on_second:
        for _ in range(6):  # each instance, every 10 s, for three minutes
            for bastion in (first, second, first):
                assert (await bastion.me(token)).status_code == 200
            clock.advance(30)
        await first.services.sessions.activity.flush()
        await second.services.sessions.activity.flush()
        # The first request on each (Redis held no activity yet) and then once a minute.
        assert writes(on_first) + writes(on_second) == 3


async def test_an_idle_session_expires_on_every_instance(
    start, redis_url: str, clock: Clock, sink: MemorySink
) -> None:
    first = await start(redis_url, {"SESSION_IDLE_TIMEOUT": "1h"})
    second = await start(redis_url, {"SESSION_IDLE_TIMEOUT": "1h"})
    token = (await first.signup("user@example.com"))["token"]
    for bastion in (first, second) * 3:  # kept alive by both, in turn
        clock.advance(50 * 60)
        assert (await bastion.me(token)).status_code == 200
    clock.advance(3600 + 61)

    expired = await second.me(token)

    assert expired.status_code == 401 and expired.json()["code"] == "session_expired"
    assert (await first.me(token)).status_code == 401
    assert [event.details["reason"] for event in sink.of_type("session.expired")] == ["idle"]
