"""Shared state on a real Redis: two instances agree, and Redis faults never let a
revoked token through, never answer 5xx, and are recorded (``redis.fallback``,
``redis.recovered``). Clocks are injected; the only real waits are Redis timeouts."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from tests.integration.redis_server import RedisServer
from tests.support import PASSWORD, Bastion, Clock, recover_redis

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


async def _signout(bastion: Bastion, token: str) -> None:
    answer = await bastion.client.post("/api/v1/auths/signout", headers=_auth(token))
    assert answer.status_code == 200


# --- two instances ------------------------------------------------------------------------


async def test_token_revoked_on_one_instance_is_refused_by_the_other(start, redis_url: str) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    user = await first.signup("user@example.com")
    other = (await first.signin("user@example.com")).json()["token"]
    assert (await second.me(user["token"])).status_code == 200
    await _signout(first, user["token"])
    refused = await second.me(user["token"])
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert (await second.me(other)).status_code == 200


async def test_password_change_on_one_instance_ends_sessions_cached_by_the_other(
    start, redis_url: str
) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    user = await first.signup("user@example.com")
    assert (await second.me(user["token"])).status_code == 200  # cached by the second
    changed = await first.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "another long passphrase"},
        headers=_auth(user["token"]),
    )
    assert changed.status_code == 200
    assert (await second.me(user["token"])).status_code == 401
    assert (await second.me(changed.json()["token"])).status_code == 200


async def test_a_limit_is_reached_through_both_instances(
    start, redis_url: str, sink: MemorySink
) -> None:
    first = await start(redis_url, {"API_RATE_LIMIT_USER": "4/1m"})
    second = await start(redis_url, {"API_RATE_LIMIT_USER": "4/1m"})
    token = (await first.signup("user@example.com"))["token"]
    statuses = [(await bastion.me(token)).status_code for bastion in (first, second) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert len(sink.of_type("ratelimit.hit")) == 2


async def test_revoked_token_is_refused_after_redis_is_flushed(
    start, redis_url: str, redis_session_server: RedisServer
) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    user = await first.signup("user@example.com")
    await _signout(first, user["token"])
    redis_session_server.flush()
    # Redis has forgotten everything, and says so (no seeded marker): the database answers.
    assert (await second.me(user["token"])).status_code == 401
    shared = second.services.shared
    assert shared is not None
    await shared.settle()  # re-seeded from the database
    assert redis_session_server.command("EXISTS", f"bastion:revoked:{_jti(second, user)}") == ":1"
    assert (await second.me(user["token"])).status_code == 401


def _jti(bastion: Bastion, user: dict) -> str:
    return bastion.services.tokens.verify(user["token"]).jti


# --- faults -------------------------------------------------------------------------------


async def test_redis_absent_at_start_falls_back_then_recovers(
    start, redis_process: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    redis_process.kill()
    bastion = await start(redis_process.url)
    assert [event.outcome for event in sink.of_type("redis.fallback")] == ["failure"]
    user = await bastion.signup("user@example.com")
    assert (await bastion.me(user["token"])).status_code == 200
    await _signout(bastion, user["token"])
    assert (await bastion.me(user["token"])).status_code == 401
    redis_process.start()
    await recover_redis(bastion, clock)
    assert len(sink.of_type("redis.recovered")) == 1
    # The revocation made while Redis was away was seeded into it on recovery.
    assert redis_process.command("EXISTS", f"bastion:revoked:{_jti(bastion, user)}") == ":1"
    assert (await bastion.me(user["token"])).status_code == 401


async def test_redis_killed_mid_run_keeps_answering_and_limits_sign_in(
    start, redis_process: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start(redis_process.url, {"SIGNIN_RATE_LIMIT_IP": "3/15m"})
    user = await bastion.signup("user@example.com")
    assert (await bastion.me(user["token"])).status_code == 200
    redis_process.kill()
    assert (await bastion.me(user["token"])).status_code == 200
    assert len(sink.of_type("redis.fallback")) == 1
    await _signout(bastion, user["token"])
    assert (await bastion.me(user["token"])).status_code == 401
    # Sign-in limits hold during the outage, in this process's memory.
    statuses = [(await bastion.signin(f"nobody{i}@example.com")).status_code for i in range(4)]
    assert statuses == [400, 400, 400, 429]
    redis_process.start()
    await recover_redis(bastion, clock)
    assert len(sink.of_type("redis.recovered")) == 1
    assert (await bastion.me(user["token"])).status_code == 401


async def test_hung_redis_costs_at_most_its_timeout_and_is_left_until_it_answers(
    start, redis_process: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start(redis_process.url)
    user = await bastion.signup("user@example.com")
    redis_process.pause()
    try:
        assert (await bastion.me(user["token"])).status_code == 200  # waits 200 ms, once
        assert len(sink.of_type("redis.fallback")) == 1
        await _signout(bastion, user["token"])  # the database has it; the hung Redis misses it
        assert (await bastion.me(user["token"])).status_code == 401
        clock.advance(6)
        await bastion.me(user["token"])  # the probe times out in the background
        shared = bastion.services.shared
        assert shared is not None
        await shared.settle()
        assert sink.of_type("redis.recovered") == []
    finally:
        redis_process.resume()
    await recover_redis(bastion, clock)
    assert len(sink.of_type("redis.recovered")) == 1
    assert (await bastion.me(user["token"])).status_code == 401


async def test_signed_out_where_redis_was_slow_is_refused_where_it_is_trusted(
    start, redis_process: RedisServer, sink: MemorySink
) -> None:
    first = await start(redis_process.url)
    second = await start(redis_process.url)
    user = await first.signup("user@example.com")
    assert (await second.me(user["token"])).status_code == 200
    redis_process.pause()
    try:
        # One slow reply: the first instance leaves Redis for its retry interval.
        assert (await first.me(user["token"])).status_code == 200
    finally:
        redis_process.resume()
    assert len(sink.of_type("redis.fallback")) == 1
    await _signout(first, user["token"])
    # The second never saw Redis fail and still trusts it: the revocation must be there.
    assert redis_process.command("EXISTS", f"bastion:revoked:{_jti(first, user)}") == ":1"
    refused = await second.me(user["token"])
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"


async def test_redis_restarted_empty_never_lets_a_revoked_token_through(
    start, redis_process: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    first = await start(redis_process.url)
    second = await start(redis_process.url)
    user = await first.signup("user@example.com")
    assert (await second.me(user["token"])).status_code == 200
    await _signout(first, user["token"])
    redis_process.restart()
    for bastion in (second, first, second):
        assert (await bastion.me(user["token"])).status_code == 401
    for bastion in (first, second):
        await recover_redis(bastion, clock)
        assert (await bastion.me(user["token"])).status_code == 401
    assert len(sink.of_type("redis.recovered")) == len(sink.of_type("redis.fallback"))
