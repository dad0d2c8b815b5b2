"""A Redis that answers wrong things (``+OK`` to everything, arrays of the wrong types,
bytes that are not RESP) is a Redis fault like silence: no request fails, the fallback is
in the audit log, and Bastion comes back to Redis once it answers properly again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bastion.audit import query
from tests.integration.redis_server import RedisServer
from tests.integration.wrong_redis import GARBAGE, INTEGER, NIL, OK, WRONG_TYPES, WrongRedis
from tests.support import Bastion, Clock, recover_redis

WRONG = {"ok": OK, "integer": INTEGER, "nil": NIL, "wrong_types": WRONG_TYPES, "garbage": GARBAGE}
# What the fallback entry names: redis-py's own parser reports bytes that are not RESP.
REASONS = {kind: "UnusableReply" for kind in WRONG} | {"garbage": "InvalidResponse"}


@pytest.fixture
async def wrong(redis_session_server: RedisServer, redis_url: str) -> AsyncIterator[WrongRedis]:
    server = await WrongRedis(redis_session_server.port).start()
    yield server
    await server.stop()


@pytest.fixture
def start(start_bastion, clock: Clock, wrong: WrongRedis):
    async def start_on_wrong_redis() -> Bastion:
        env = {"REDIS_URL": wrong.url, "REDIS_TIMEOUT": "2s", "REDIS_RETRY_INTERVAL": "5s"}
        return await start_bastion(env, clock=clock)

    return start_on_wrong_redis


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _redis_events(bastion: Bastion) -> list[tuple[str, str, str | None]]:
    assert bastion.services.audit.flush(30)
    return [
        (entry["type"], entry["outcome"], entry["details"].get("reason"))
        for entry in query.entries(bastion.settings.audit.audit_logs_file_path)
        if entry["type"].startswith("redis.")
    ]


async def _sign_up_in_and_out(bastion: Bastion, email: str) -> None:
    """The requests that use Redis: sign-up and sign-in limits, token checks, revocation."""
    user = await bastion.signup(email)
    assert (user["email"], user["token_type"]) == (email, "Bearer")
    signed_in = await bastion.signin(email)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["token"]
    me = await bastion.me(token)
    assert (me.status_code, me.json()["email"]) == (200, email)
    signed_out = await bastion.client.post("/api/v1/auths/signout", headers=_auth(token))
    assert (signed_out.status_code, signed_out.json()) == (200, {"status": True})
    refused = await bastion.me(token)
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")


@pytest.mark.parametrize("kind", WRONG)
async def test_a_redis_answering_wrong_to_everything_fails_no_request(
    start, wrong: WrongRedis, kind: str
) -> None:
    wrong.answer("*", WRONG[kind])
    bastion = await start()
    await _sign_up_in_and_out(bastion, "user@example.com")
    assert _redis_events(bastion) == [("redis.fallback", "failure", REASONS[kind])]


@pytest.mark.parametrize("kind", WRONG)
async def test_wrong_script_replies_mid_run_fall_back_then_redis_is_used_again(
    start,
    wrong: WrongRedis,
    redis_session_server: RedisServer,
    clock: Clock,
    kind: str,
) -> None:
    bastion = await start()
    await bastion.signup("admin@example.com")
    wrong.answer("EVALSHA", WRONG[kind])
    # The sign-up that answered 500 (IndexError) when EVALSHA got +OK.
    await _sign_up_in_and_out(bastion, "user@example.com")
    assert _redis_events(bastion) == [("redis.fallback", "failure", "UnusableReply")]
    wrong.behave()
    await recover_redis(bastion, clock)
    assert _redis_events(bastion) == [
        ("redis.fallback", "failure", "UnusableReply"),
        ("redis.recovered", "success", None),
    ]
    assert redis_session_server.command("CONFIG", "RESETSTAT") == "+OK"
    assert (await bastion.signin("user@example.com")).status_code == 200
    assert redis_session_server.command_calls()["evalsha"] == 1  # the sign-in limits, shared


async def test_a_revocation_redis_does_not_store_still_holds(
    start, wrong: WrongRedis, redis_session_server: RedisServer
) -> None:
    bastion = await start()
    user = await bastion.signup("user@example.com")
    wrong.answer("SET", NIL)  # SET refused with a nil: nothing was stored
    signed_out = await bastion.client.post("/api/v1/auths/signout", headers=_auth(user["token"]))
    assert (signed_out.status_code, signed_out.json()) == (200, {"status": True})
    assert _redis_events(bastion) == [("redis.fallback", "failure", "UnusableReply")]
    refused = await bastion.me(user["token"])
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")
    jti = bastion.services.tokens.verify(user["token"]).jti
    assert redis_session_server.command("EXISTS", f"bastion:revoked:{jti}") == ":0"
