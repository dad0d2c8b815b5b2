"""API keys on a real Redis: a key in use is read from memory, with one round trip to
Redis a request, and every change to it or to its owner, made on one worker or instance,
is seen at once by the others, through Redis faults too. Clocks are injected; the faults
are a stopped, flushed or wrongly answering Redis, none of which makes anyone wait."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bastion.audit.events import MemorySink
from bastion.shared.redis import RedisStorage
from tests.integration.redis_server import RedisServer
from tests.integration.wrong_redis import GARBAGE, INTEGER, NIL, OK, WRONG_TYPES, WrongRedis
from tests.support import (
    Bastion,
    Clock,
    client_from,
    recover_redis,
    spare_admin,
    sql_statements,
)

# A loaded machine must not trip the breaker where no fault is meant: a generous timeout.
REDIS = {"REDIS_TIMEOUT": "2s", "REDIS_RETRY_INTERVAL": "5s", "ENABLE_API_KEYS": "true"}
# Commands the request's one script runs inside Redis (counted by INFO like any other).
SCRIPT_COMMANDS = {"exists", "get", "set", "zremrangebyscore", "zcard", "zrange", "zadd", "pexpire"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def start(start_bastion, clock: Clock, sink: MemorySink):
    async def start_on(url: str, workers: str = "1") -> Bastion:
        return await start_bastion(
            {"REDIS_URL": url, "WORKERS": workers, **REDIS}, clock=clock, sinks=[sink]
        )

    return start_on


async def _owner_with_key(bastion: Bastion, **form: object) -> tuple[dict, dict]:
    user = await bastion.signup("owner@example.com")  # the first account: an admin
    await spare_admin(bastion)
    created = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "ci", **form}, headers=_auth(user["token"])
    )
    assert created.status_code == 200, created.text
    return user, created.json()


async def _held(bastion: Bastion, key: str) -> None:
    """Use the key until the instance serves it from memory, vouched for by Redis."""
    for _ in range(2):  # read at first use, read again under its generation at the second
        assert (await bastion.me(key)).status_code == 200
    await bastion.services.api_keys.last_use.flush()
    with sql_statements(bastion) as seen:
        assert (await bastion.me(key)).status_code == 200
    assert seen == []


@dataclass
class Pair:
    """Two workers or instances on one Redis and one database."""

    first: Bastion  # where the owner signed up and made the key
    second: Bastion  # where the key is in use, held in memory
    user: dict
    created: dict


async def _pair(start, url: str, workers: str = "1", **form: object) -> Pair:
    first = await start(url, workers)
    second = await start(url, workers)
    user, created = await _owner_with_key(first, **form)
    await _held(second, created["key"])
    return Pair(first, second, user, created)


# --- two workers, two instances -----------------------------------------------------------

SHARING = pytest.mark.parametrize("workers", ["1", "2"], ids=["instance", "worker"])


@SHARING
async def test_a_key_in_use_costs_one_redis_round_trip_and_no_database(
    start, redis_url: str, redis_session_server: RedisServer, workers: str
) -> None:
    bastion = await start(redis_url, workers)
    _, created = await _owner_with_key(bastion)
    await _held(bastion, created["key"])
    assert redis_session_server.command("CONFIG", "RESETSTAT") == "+OK"
    with sql_statements(bastion) as seen:
        for _ in range(5):
            assert (await bastion.me(created["key"])).status_code == 200
        await bastion.services.api_keys.last_use.flush()
    assert seen == []
    calls = redis_session_server.command_calls()
    calls.pop("config|resetstat")
    assert calls.pop("evalsha") == 5
    assert set(calls) <= SCRIPT_COMMANDS and "set" not in calls  # no new generation


@SHARING
async def test_a_key_created_on_one_works_on_the_other_at_first_use(
    start, redis_url: str, workers: str
) -> None:
    first = await start(redis_url, workers)
    second = await start(redis_url, workers)
    _, created = await _owner_with_key(first)
    answer = await second.me(created["key"])
    assert answer.status_code == 200 and answer.json()["email"] == "owner@example.com"


@SHARING
async def test_a_revoked_key_is_refused_at_once_by_the_other(
    start, redis_url: str, workers: str
) -> None:
    pair = await _pair(start, redis_url, workers)
    revoked = await pair.first.client.delete(
        f"/api/v1/auths/api_key/{pair.created['id']}", headers=_auth(pair.user["token"])
    )
    assert revoked.status_code == 200
    refused = await pair.second.me(pair.created["key"])
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_invalid"
    assert pair.second.services.api_keys.cached_count == 0


@SHARING
async def test_a_rescoped_key_is_refused_at_once_by_the_other(
    start, redis_url: str, workers: str
) -> None:
    pair = await _pair(start, redis_url, workers)
    api_keys = pair.first.services.api_keys
    await api_keys.set_scopes(pair.user["id"], pair.created["id"], ["/api/models"])
    refused = await pair.second.me(pair.created["key"])
    assert refused.status_code == 403 and refused.json()["code"] == "api_key_out_of_scope"
    await api_keys.set_scopes(pair.user["id"], pair.created["id"], [])
    assert (await pair.second.me(pair.created["key"])).status_code == 200


@SHARING
async def test_an_expired_key_is_refused_at_once_by_both(
    start, redis_url: str, clock: Clock, workers: str
) -> None:
    pair = await _pair(start, redis_url, workers, expires_in_days=1)
    await _held(pair.first, pair.created["key"])
    clock.advance(86_400)
    for bastion in (pair.first, pair.second):
        refused = await bastion.me(pair.created["key"])
        assert refused.status_code == 401 and refused.json()["code"] == "api_key_invalid"


@SHARING
async def test_a_disabled_owners_keys_are_refused_at_once_by_the_other(
    start, redis_url: str, workers: str
) -> None:
    pair = await _pair(start, redis_url, workers)
    users, key = pair.first.services.users, pair.created["key"]
    await users.set_active(pair.user["id"], False)
    refused = await pair.second.me(key)
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_invalid"
    await users.set_active(pair.user["id"], True)
    assert (await pair.second.me(key)).status_code == 200
    await users.set_role(pair.user["id"], "pending")
    assert (await pair.second.me(key)).json()["role"] == "pending"


async def test_bogus_keys_are_limited_per_address_on_every_instance_before_any_lookup(
    start_bastion, redis_url: str, clock: Clock
) -> None:
    env = {"REDIS_URL": redis_url, **REDIS, "API_KEY_FAILURE_RATE_LIMIT_IP": "2/1m"}
    first = await start_bastion(env, clock=clock)
    second = await start_bastion(env, clock=clock)
    _, created = await _owner_with_key(first)
    failures = [
        (await bastion.me(f"sk-{i:048x}")).status_code for i, bastion in enumerate((first, second))
    ]
    assert failures == [401, 401]  # one address, counted once for all instances
    with sql_statements(second) as seen:
        refused = await second.me("sk-" + "f" * 48)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert seen == []
    async with client_from(second, "198.51.100.3") as caller:
        answer = await caller.get("/api/v1/auths/", headers=_auth(created["key"]))
        assert answer.status_code == 200


# --- faults -------------------------------------------------------------------------------


async def test_a_key_revoked_while_redis_is_stopped_is_refused_by_the_other(
    start, redis_process: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    pair = await _pair(start, redis_process.url)
    redis_process.kill()
    # Written to the database only.
    await pair.first.services.api_keys.revoke(pair.user["id"], pair.created["id"])
    refused = await pair.second.me(pair.created["key"])
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_invalid"
    assert len(sink.of_type("redis.fallback")) == 2
    redis_process.start()
    for bastion in (pair.first, pair.second):
        await recover_redis(bastion, clock)
        assert (await bastion.me(pair.created["key"])).status_code == 401


async def test_a_held_key_is_read_from_the_database_while_redis_is_stopped(
    start, redis_process: RedisServer, clock: Clock
) -> None:
    bastion = await start(redis_process.url)
    user, created = await _owner_with_key(bastion)
    await _held(bastion, created["key"])
    redis_process.kill()
    with sql_statements(bastion) as seen:
        assert (await bastion.me(created["key"])).status_code == 200
    assert any("api_keys" in statement for statement in seen)
    await bastion.services.users.set_active(user["id"], False)
    assert (await bastion.me(created["key"])).status_code == 401
    await bastion.services.users.set_active(user["id"], True)
    redis_process.start()
    await recover_redis(bastion, clock)
    await _held(bastion, created["key"])


async def test_a_key_changed_before_redis_was_flushed_is_never_served_stale(
    start, redis_url: str, redis_session_server: RedisServer
) -> None:
    pair = await _pair(start, redis_url)
    redis_session_server.flush()
    await pair.first.services.api_keys.set_scopes(
        pair.user["id"], pair.created["id"], ["/api/models"]
    )
    # Redis has forgotten everything, and says so (no seeded marker): the database answers.
    assert (await pair.second.me(pair.created["key"])).status_code == 403
    shared = pair.second.services.shared
    assert shared is not None
    await shared.settle()  # re-seeded from the database
    assert (await pair.second.me(pair.created["key"])).status_code == 403


@pytest.mark.parametrize(
    "reply",
    [OK, INTEGER, NIL, WRONG_TYPES, GARBAGE],
    ids=["ok", "integer", "nil", "wrong_types", "garbage"],
)
async def test_a_redis_answering_wrong_to_the_key_check_fails_no_request(
    start, redis_session_server: RedisServer, redis_url: str, reply: bytes
) -> None:
    wrong = await WrongRedis(redis_session_server.port).start()
    try:
        bastion = await start(wrong.url)
        user, created = await _owner_with_key(bastion)
        wrong.answer("EVALSHA", reply)
        answer = await bastion.me(created["key"])
        assert (answer.status_code, answer.json()["email"]) == (200, "owner@example.com")
        await bastion.services.api_keys.revoke(user["id"], created["id"])
        assert (await bastion.me(created["key"])).status_code == 401
    finally:
        await wrong.stop()


async def test_seeding_drops_every_keys_generation(redis_url: str) -> None:
    # An instance that changed a key while it could not reach Redis seeds it on recovery:
    # no instance may go on trusting a copy cached under the generation from before.
    storage = RedisStorage(redis_url)
    try:
        check = await storage.check_api_key("h" * 64, "user", [], 0.0)
        again = await storage.check_api_key("h" * 64, "user", [], 0.0)
        assert check.generation == again.generation
        await storage.seed([])
        after = await storage.check_api_key("h" * 64, "user", [], 0.0)
        assert after.seeded and after.generation != check.generation
        await storage.forget_api_key("h" * 64)
        assert (await storage.check_api_key("h" * 64, "user", [], 0.0)).generation not in {
            check.generation,
            after.generation,
        }
    finally:
        await storage.close()
