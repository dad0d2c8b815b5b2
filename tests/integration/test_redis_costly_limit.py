"""The costly-calls limit on a real Redis: counted in the authentication's one round trip,
shared by every instance, kept apart from the caller's API limit, and still applied while
Redis is away. Clocks are injected; the fault is a killed Redis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bastion.audit.events import MemorySink
from tests.fake_upstreams import FakeUpstream, serve
from tests.gateway_support import Running, gateway_env
from tests.integration.redis_server import RedisServer
from tests.support import Bastion, Clock, sql_statements

ENV = {"REDIS_TIMEOUT": "2s", "REDIS_RETRY_INTERVAL": "5s", "COSTLY_RATE_LIMIT": "2/1m"}
COMPLETION = {"model": "gpt-normal", "messages": [{"role": "user", "content": "Hi"}]}
# Commands the request's one script runs inside Redis (counted by INFO like any other).
SCRIPT_COMMANDS = {"exists", "get", "set", "zremrangebyscore", "zcard", "zrange", "zadd", "pexpire"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def upstream() -> Iterator[Running]:
    fake = FakeUpstream("openai")
    with serve(fake) as url:
        yield Running(fake, f"{url}/v1")


@pytest.fixture
def start(start_bastion, clock: Clock, sink: MemorySink, upstream: Running):
    async def start_on(url: str, **extra: str) -> Bastion:
        env = {"REDIS_URL": url, **ENV, **gateway_env(upstream, None), **extra}
        return await start_bastion(env, clock=clock, sinks=[sink])

    return start_on


async def _complete(bastion: Bastion, credential: str) -> httpx.Response:
    return await bastion.client.post(
        "/api/chat/completions", json=COMPLETION, headers=_auth(credential)
    )


async def _key(bastion: Bastion, token: str) -> str:
    created = await bastion.client.post(
        "/api/v1/auths/api_key", json={"name": "ci"}, headers=_auth(token)
    )
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


def _upstream_calls(upstream: Running) -> int:
    return len([r for r in upstream.fake.requests if r.path == "/v1/chat/completions"])


@pytest.mark.parametrize("credential", ["api_key", "token"])
async def test_a_completion_costs_one_redis_round_trip(
    start, redis_url: str, redis_session_server: RedisServer, credential: str
) -> None:
    bastion = await start(redis_url, COSTLY_RATE_LIMIT="60/1m")
    admin = await bastion.signup("admin@example.com")
    caller = await _key(bastion, admin["token"]) if credential == "api_key" else admin["token"]
    for _ in range(2):  # the key is read at first use, vouched for by Redis at the second
        assert (await _complete(bastion, caller)).status_code == 200
    await bastion.services.api_keys.last_use.flush()

    assert redis_session_server.command("CONFIG", "RESETSTAT") == "+OK"
    with sql_statements(bastion) as seen:
        answers = [await _complete(bastion, caller) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    calls = redis_session_server.command_calls()
    calls.pop("config|resetstat")
    # The authentication, the caller's limit and the costly limit: one script each time.
    assert calls.pop("evalsha") == 3
    assert set(calls) <= SCRIPT_COMMANDS
    if credential == "api_key":
        assert seen == []
    # The headers are the costly limit's (60), not the API limit's.
    assert [answer.headers["ratelimit-limit"] for answer in answers] == ["60"] * 3
    assert [answer.headers["ratelimit-remaining"] for answer in answers] == ["57", "56", "55"]


async def test_the_costly_limit_is_shared_by_instances_and_kept_per_key(
    start, redis_url: str, sink: MemorySink, upstream: Running
) -> None:
    one = await start(redis_url)
    other = await start(redis_url)
    admin = await one.signup("admin@example.com")
    key, spare = await _key(one, admin["token"]), await _key(one, admin["token"])

    answers = [
        await _complete(one, key),
        await _complete(other, key),
        await _complete(one, key),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in answers[:2]] == ["1", "0"]
    assert answers[2].json()["code"] == "rate_limited"
    assert int(answers[2].headers["retry-after"]) > 0
    # A key's calls are its own: another key of the same owner has its whole allowance.
    assert (await _complete(other, spare)).headers["ratelimit-remaining"] == "1"
    assert _upstream_calls(upstream) == 3

    hits = [event for event in sink.events if event.type == "ratelimit.hit"]
    assert [event.details["limit"] for event in hits] == ["costly"]
    assert hits[0].details["rate"] == "2/60s" and hits[0].api_key_id is not None


async def test_refused_callers_spend_none_of_the_costly_allowance(
    start, redis_url: str, clock: Clock
) -> None:
    bastion = await start(redis_url, API_RATE_LIMIT_USER="4/1m", COSTLY_RATE_LIMIT="2/1h")
    admin = await bastion.signup("admin@example.com")
    signed_out = (await bastion.signin("admin@example.com")).json()["token"]
    left = await bastion.client.post("/api/v1/auths/signout", headers=_auth(signed_out))
    assert left.status_code == 200  # the API limit's first hit
    # A token that was signed out is refused, and no costly call is counted for it.
    for _ in range(2):
        assert (await _complete(bastion, signed_out)).status_code == 401
    answer = await _complete(bastion, admin["token"])
    assert (answer.status_code, answer.headers["ratelimit-remaining"]) == (200, "1")
    # The API limit is full: refused by it, and no costly call is counted either.
    refused = await _complete(bastion, admin["token"])
    assert (refused.status_code, refused.headers["ratelimit-limit"]) == (429, "4")

    clock.advance(61)  # the API limit's window is empty again, the costly one is not
    answer = await _complete(bastion, admin["token"])
    assert (answer.status_code, answer.headers["ratelimit-remaining"]) == (200, "0")
    assert (await _complete(bastion, admin["token"])).status_code == 429


async def test_with_redis_away_the_costly_limit_still_applies(
    start, redis_process: RedisServer, upstream: Running
) -> None:
    bastion = await start(redis_process.url)
    admin = await bastion.signup("admin@example.com")
    key = await _key(bastion, admin["token"])
    redis_process.kill()
    answers = [await _complete(bastion, key) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert _upstream_calls(upstream) == 2
