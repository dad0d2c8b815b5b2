"""Alert rules on a real Redis: two instances count into one window and one alert fires
for both; through a Redis fault each goes on counting in its own memory and no request
fails. Clocks are injected; the only real waits are Redis timeouts."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from tests.integration.redis_server import RedisServer
from tests.support import Bastion, Clock, client_from, recover_redis

ENV = {
    "REDIS_TIMEOUT": "200ms",
    "REDIS_RETRY_INTERVAL": "5s",
    "ALERT_SIGNIN_FAILURES_IP": "4/15m",
    "ALERT_SIGNIN_FAILURES_ACCOUNT": "100/15m",
}


@pytest.fixture
def start(start_bastion, clock: Clock, sink: MemorySink):
    async def start_on(url: str) -> Bastion:
        return await start_bastion({"REDIS_URL": url, **ENV}, clock=clock, sinks=[sink])

    return start_on


async def _fail(bastion: Bastion, email: str) -> None:
    """One failed sign-in (an unknown account), the alert rules settled."""
    answer = await bastion.signin(email)
    assert answer.status_code == 400, answer.text
    await bastion.services.alerts.settle()


def _fired(sink: MemorySink, rule: str) -> int:
    return len(sink.of_type(f"alert.{rule}"))


async def test_two_instances_count_sign_in_failures_together(
    start, redis_url: str, redis_session_server: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    fired = []
    for i in range(8):
        await _fail((first, second)[i % 2], f"nobody{i}@example.com")
        fired.append(_fired(sink, "signin_failures_ip"))
    # The fourth failure, whichever instance saw it, fires the one alert of the window.
    assert fired == [0, 0, 0, 1, 1, 1, 1, 1]
    assert sink.of_type("alert.signin_failures_ip")[0].details["subject"] == "127.0.0.1"
    assert redis_session_server.command("ZCARD", "bastion:alert:signin_failures_ip:127.0.0.1") == (
        ":4"
    )
    clock.advance(15 * 60 + 1)
    for i in range(4):
        await _fail((second, first)[i % 2], f"again{i}@example.com")
        fired.append(_fired(sink, "signin_failures_ip"))
    assert fired[8:] == [1, 1, 1, 2]


async def test_an_admin_address_seen_by_one_instance_is_known_to_the_other(
    start, redis_url: str, sink: MemorySink
) -> None:
    first = await start(redis_url)
    second = await start(redis_url)
    await first.signup("admin@example.com")  # the first account is the admin

    async def sign_in(bastion: Bastion, address: str) -> int:
        async with client_from(bastion, address) as client:
            answer = await client.post(
                "/api/v1/auths/signin",
                json={"email": "admin@example.com", "password": "correct horse battery staple"},
            )
        assert answer.status_code == 200, answer.text
        await bastion.services.alerts.settle()
        return _fired(sink, "admin_new_address")

    assert await sign_in(first, "198.51.100.1") == 1
    assert await sign_in(second, "198.51.100.1") == 1
    assert await sign_in(second, "198.51.100.2") == 2
    assert await sign_in(first, "198.51.100.2") == 2
    assert [alert.client_ip for alert in sink.of_type("alert.admin_new_address")] == [
        "198.51.100.1",
        "198.51.100.2",
    ]


async def test_through_a_redis_fault_each_instance_counts_alone_and_no_request_fails(
    start, redis_process: RedisServer, clock: Clock, sink: MemorySink
) -> None:
    first = await start(redis_process.url)
    second = await start(redis_process.url)
    for i in range(2):
        await _fail(first, f"before{i}@example.com")
    redis_process.kill()
    # The failures go on being refused as failures (400), never 5xx; each instance now
    # counts in its own memory from nothing.
    for i in range(3):
        await _fail(first, f"first{i}@example.com")
    assert _fired(sink, "redis_fallback") == 1
    assert _fired(sink, "signin_failures_ip") == 0
    await _fail(first, "first3@example.com")
    assert _fired(sink, "signin_failures_ip") == 1
    for i in range(3):
        await _fail(second, f"second{i}@example.com")
    assert _fired(sink, "redis_fallback") == 2  # the second found Redis gone on its own
    assert _fired(sink, "signin_failures_ip") == 1
    await _fail(second, "second3@example.com")
    assert _fired(sink, "signin_failures_ip") == 2
    # Back on Redis, the instances count together again.
    redis_process.start()
    clock.advance(15 * 60 + 1)
    await recover_redis(first, clock)
    await recover_redis(second, clock)
    for i in range(4):
        await _fail((first, second)[i % 2], f"after{i}@example.com")
    assert _fired(sink, "signin_failures_ip") == 3
