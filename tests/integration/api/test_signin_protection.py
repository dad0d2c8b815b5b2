"""Brute force (SPEC 4): limits per account+address, per address and per account, the 429
before any hashing, progressive delays, the lockout at 100 consecutive failures, and the
real user on another address still signing in. Each test runs on the in-process storage
and on a real Redis."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends

from bastion.api.deps import rate_limited
from bastion.audit.events import MemorySink
from bastion.auth.authenticate import Principal
from tests.support import PASSWORD, Bastion, Clock, CountingHasher

ATTACKER = "203.0.113.5"
CostlyLimited = Annotated[
    Principal,
    Depends(rate_limited("costly", lambda settings: settings.ratelimit.costly_rate_limit)),
]
REAL_USER = "198.51.100.7"
WRONG = "not the password at all"


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "memory":
        return {}
    return {"REDIS_URL": request.getfixturevalue("redis_url")}


@pytest.fixture
async def start(start_bastion, backend: dict[str, str], clock: Clock):
    async def start_with(env: dict[str, str] | None = None) -> tuple[Bastion, MemorySink]:
        bastion = await start_bastion({**backend, **(env or {})}, clock=clock)
        sink = MemorySink()
        bastion.services.events.add_sink(sink)
        return bastion, sink

    return start_with


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _signin(
    bastion: Bastion, email: str, password: str = WRONG, ip: str = ATTACKER
) -> httpx.Response:
    # The in-process client is 127.0.0.1, a trusted proxy by default: it names the client.
    return await bastion.client.post(
        "/api/v1/auths/signin",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": ip},
    )


async def test_progressive_delays_answer_429_with_growing_retry_after_without_hashing(
    start, clock: Clock, cheap_hasher: CountingHasher
) -> None:
    bastion, sink = await start()
    await bastion.signup("victim@example.com")
    for _ in range(3):  # three failures are free
        answer = await _signin(bastion, "victim@example.com")
        assert answer.status_code == 400, (answer.text, answer.headers)
    waits = []
    for _ in range(3):
        hashed = cheap_hasher.calls
        refused = await _signin(bastion, "victim@example.com", PASSWORD)
        assert refused.status_code == 429
        assert refused.json() == {
            "detail": "Too many failed sign-ins; retry later.",
            "code": "rate_limited",
        }
        assert cheap_hasher.calls == hashed  # refused before any hashing
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1])
        assert (await _signin(bastion, "victim@example.com")).status_code == 400
    assert waits == [1, 2, 4]
    assert [event.details["limit"] for event in sink.of_type("ratelimit.hit")] == [
        "signin_failures"
    ] * 3


async def test_account_and_address_window_refuses_before_hashing(
    start, cheap_hasher: CountingHasher
) -> None:
    bastion, sink = await start({"SIGNIN_DELAY_AFTER_FAILURES": "100"})
    await bastion.signup("victim@example.com")
    for _ in range(10):
        assert (await _signin(bastion, "victim@example.com")).status_code == 400
    hashed = cheap_hasher.calls
    refused = await _signin(bastion, "victim@example.com", PASSWORD)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Too many requests; retry later.", "code": "rate_limited"}
    assert refused.headers["RateLimit-Limit"] == "10"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["Retry-After"] == "900"
    assert cheap_hasher.calls == hashed
    [event] = sink.of_type("ratelimit.hit")
    assert event.client_ip == ATTACKER and event.details["limit"] == "signin"
    # The same account from another address is not affected.
    assert (await _signin(bastion, "victim@example.com", PASSWORD, REAL_USER)).status_code == 200


async def test_many_accounts_from_one_address_hit_the_address_limit(
    start, cheap_hasher: CountingHasher
) -> None:
    bastion, _ = await start({"SIGNIN_RATE_LIMIT_IP": "5/15m"})
    for i in range(5):
        assert (await _signin(bastion, f"guess{i}@example.com")).status_code == 400
    hashed = cheap_hasher.calls
    refused = await _signin(bastion, "guess5@example.com")
    assert refused.status_code == 429 and refused.headers["RateLimit-Limit"] == "5"
    assert cheap_hasher.calls == hashed
    assert (await _signin(bastion, "guess5@example.com", ip=REAL_USER)).status_code == 400


async def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(
    start, cheap_hasher: CountingHasher
) -> None:
    bastion, sink = await start(
        {"FORWARDED_ALLOW_IPS": "192.0.2.1", "SIGNIN_RATE_LIMIT_IP": "3/15m"}
    )
    for i in range(3):
        answer = await _signin(bastion, f"guess{i}@example.com", ip=f"198.51.100.{i}")
        assert answer.status_code == 400
    hashed = cheap_hasher.calls
    refused = await _signin(bastion, "guess9@example.com", ip="198.51.100.99")
    assert refused.status_code == 429
    assert cheap_hasher.calls == hashed
    assert sink.of_type("ratelimit.hit")[0].client_ip == "127.0.0.1"


async def test_real_user_on_another_address_signs_in_while_one_address_hammers(
    start, clock: Clock, cheap_hasher: CountingHasher
) -> None:
    bastion, _ = await start()
    await bastion.signup("admin@example.com")
    victim = await bastion.signup("victim@example.com")
    hashed = cheap_hasher.calls
    for _ in range(40):
        await _signin(bastion, "victim@example.com")
        clock.advance(901)  # past every delay and window: only the address cap remains
    # One address gets 20 guesses, however patient; 20 is far from the lockout at 100.
    assert cheap_hasher.calls - hashed == 20
    assert (await _signin(bastion, "victim@example.com", PASSWORD)).status_code == 429
    signed_in = await _signin(bastion, "victim@example.com", PASSWORD, REAL_USER)
    assert signed_in.status_code == 200 and signed_in.json()["id"] == victim["id"]
    # The user's success does not free the attacker's address.
    assert (await _signin(bastion, "victim@example.com", PASSWORD)).status_code == 429


async def test_lockout_after_100_consecutive_failures_until_an_admin_unlocks(
    start, start_bastion, clock: Clock, cheap_hasher: CountingHasher
) -> None:
    bastion, sink = await start()
    admin = await bastion.signup("admin@example.com")
    victim = await bastion.signup("victim@example.com")
    hashed = cheap_hasher.calls
    for _ in range(20):
        for address in range(6):  # six addresses, 20 failures each at most
            await _signin(bastion, "victim@example.com", ip=f"192.0.2.{address}")
        clock.advance(901)
    assert cheap_hasher.calls - hashed == 100  # not one guess more than 100
    [lockout] = sink.of_type("auth.lockout")
    assert lockout.user_id == victim["id"] and lockout.details == {"threshold": 100}
    hashed = cheap_hasher.calls
    locked = await _signin(bastion, "victim@example.com", PASSWORD, REAL_USER)
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert cheap_hasher.calls == hashed
    # The lockout is in the database: a restarted instance holds it too.
    restarted = await start_bastion(clock=clock)
    again = await _signin(restarted, "victim@example.com", PASSWORD, REAL_USER)
    assert again.json()["code"] == "account_locked"
    listed = await bastion.client.get(
        f"/api/v1/users/{victim['id']}", headers=_auth(admin["token"])
    )
    assert listed.json()["locked"] is True
    unlocked = await bastion.client.post(
        f"/api/v1/users/{victim['id']}/unlock", headers=_auth(admin["token"])
    )
    assert unlocked.status_code == 200
    [unlock] = sink.of_type("auth.unlock")
    assert unlock.user_id == admin["id"] and unlock.details["target_user_id"] == victim["id"]
    assert (await _signin(bastion, "victim@example.com", PASSWORD, REAL_USER)).status_code == 200
    assert (await _signin(bastion, "victim@example.com", PASSWORD, "192.0.2.0")).status_code == 200


async def test_success_clears_the_consecutive_count(start, clock: Clock) -> None:
    bastion, _ = await start()
    await bastion.signup("user@example.com")
    for _ in range(3):
        await _signin(bastion, "user@example.com")
    assert (await _signin(bastion, "user@example.com", PASSWORD, REAL_USER)).status_code == 200
    clock.advance(1)
    assert (await _signin(bastion, "user@example.com", PASSWORD)).status_code == 200
    user = await bastion.services.users.by_email("user@example.com")
    assert user is not None and user.failed_signins == 0
    # No delay left for the address that failed before: its count went with the success.
    assert (await _signin(bastion, "user@example.com")).status_code == 400
    assert (await _signin(bastion, "user@example.com")).status_code == 400


async def test_signup_is_limited_per_address(start) -> None:
    bastion, sink = await start({"SIGNUP_RATE_LIMIT": "2/1h"})
    await bastion.signup("a@example.com")
    await bastion.signup("b@example.com")
    refused = await bastion.client.post(
        "/api/v1/auths/signup", json={"name": "C", "email": "c@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3600"
    assert await bastion.services.users.count() == 2
    assert sink.of_type("ratelimit.hit")[0].details["limit"] == "signup"


async def test_password_change_is_limited_before_hashing(
    start, cheap_hasher: CountingHasher
) -> None:
    bastion, _ = await start({"PASSWORD_CHANGE_RATE_LIMIT": "2/15m"})
    user = await bastion.signup("user@example.com")
    for _ in range(2):
        wrong = await bastion.client.post(
            "/api/v1/auths/update/password",
            json={"password": WRONG, "new_password": "another long passphrase"},
            headers=_auth(user["token"]),
        )
        assert wrong.status_code == 400
    hashed = cheap_hasher.calls
    refused = await bastion.client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "another long passphrase"},
        headers=_auth(user["token"]),
    )
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert cheap_hasher.calls == hashed


async def test_api_keys_are_limited_per_key_and_per_user(start) -> None:
    bastion, sink = await start(
        {"ENABLE_API_KEYS": "true", "API_RATE_LIMIT_KEY": "2/1m", "API_RATE_LIMIT_USER": "5/1m"}
    )
    user = await bastion.signup("user@example.com")
    keys = []
    for name in ("one", "two"):
        created = await bastion.client.post(
            "/api/v1/auths/api_key", json={"name": name}, headers=_auth(user["token"])
        )
        keys.append(created.json()["key"])
    assert [(await bastion.me(keys[0])).status_code for _ in range(3)] == [200, 200, 429]
    assert (await bastion.me(keys[1])).status_code == 200  # the user's fifth request
    over = await bastion.me(keys[1])
    assert over.status_code == 429 and over.headers["RateLimit-Limit"] == "5"
    assert (await bastion.me(user["token"])).status_code == 429
    assert [event.details["limit"] for event in sink.of_type("ratelimit.hit")] == [
        "api_key",
        "api_key",
        "api",
    ]


async def test_costly_route_dependency_limits_per_user_with_headers(start) -> None:
    bastion, _ = await start({"COSTLY_RATE_LIMIT": "2/1m"})

    @bastion.app.get("/test/costly")
    async def costly(_: CostlyLimited) -> dict[str, bool]:
        return {"ok": True}

    await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    await bastion.services.users.set_role(user["id"], "user")
    token = (await _signin(bastion, "user@example.com", PASSWORD)).json()["token"]
    first = await bastion.client.get("/test/costly", headers=_auth(token))
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "2" and first.headers["RateLimit-Remaining"] == "1"
    assert (await bastion.client.get("/test/costly", headers=_auth(token))).status_code == 200
    refused = await bastion.client.get("/test/costly", headers=_auth(token))
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "60"


async def test_an_email_without_account_is_delayed_exactly_like_one_with(
    start, clock: Clock, cheap_hasher: CountingHasher
) -> None:
    # If only real accounts were delayed, the first 429 would reveal that one exists.
    bastion, _ = await start({"SIGNIN_MAX_FAILURES_ACCOUNT_IP": "6"})
    await bastion.signup("victim@example.com")

    async def answers(email: str) -> list[tuple[int, str | None, str | None]]:
        seen = []
        for _ in range(10):
            answer = await _signin(bastion, email)
            seen.append(
                (answer.status_code, answer.json()["code"], answer.headers.get("retry-after"))
            )
            if answer.status_code == 429:
                clock.advance(int(answer.headers["retry-after"]))
        return seen

    before = cheap_hasher.calls
    real = await answers("victim@example.com")
    middle = cheap_hasher.calls
    ghost = await answers("ghost@example.com")
    assert ghost == real
    assert [status for status, _, _ in real].count(429) >= 3
    # The same number of hashes, too: timing tells nothing either.
    assert cheap_hasher.calls - middle == middle - before


async def test_a_locked_email_answers_the_same_whether_or_not_it_has_an_account(
    start, clock: Clock, cheap_hasher: CountingHasher
) -> None:
    # If only real accounts were locked, the lock would tell which e-mails have one.
    bastion, _ = await start(
        {"SIGNIN_LOCKOUT_THRESHOLD": "4", "SIGNIN_MAX_FAILURES_ACCOUNT_IP": "2"}
    )
    await bastion.signup("victim@example.com")

    async def lock(email: str) -> list[int]:
        statuses = []
        for address in ("192.0.2.1", "192.0.2.2"):  # two addresses, two failures each
            for _ in range(2):
                statuses.append((await _signin(bastion, email, ip=address)).status_code)
                clock.advance(901)
        return statuses

    assert await lock("victim@example.com") == [400, 400, 400, 400]
    assert await lock("ghost@example.com") == [400, 400, 400, 400]
    hashed = cheap_hasher.calls
    real = await _signin(bastion, "victim@example.com", PASSWORD, REAL_USER)
    ghost = await _signin(bastion, "ghost@example.com", PASSWORD, REAL_USER)
    assert (real.status_code, real.json()) == (
        429,
        {
            "detail": "Too many failed sign-ins: an administrator must unlock this account.",
            "code": "account_locked",
        },
    )
    assert (ghost.status_code, ghost.json()) == (real.status_code, real.json())
    assert ghost.headers == real.headers
    assert "retry-after" not in real.headers
    assert cheap_hasher.calls == hashed  # refused before any hashing, both
