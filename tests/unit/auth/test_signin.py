"""The sign-in policy on its own, without HTTP: the order of its steps and what each
outcome records."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from bastion.auth.lockout import AccountLocked
from bastion.auth.signin import AccountDisabled
from bastion.errors import InvalidCredentials
from bastion.ratelimit.limiter import RateLimited
from tests.support import PASSWORD, CountingHasher, StartBastion

SCOPE = {"type": "http", "client": ("203.0.113.9", 50000), "headers": []}
IP = "203.0.113.9"


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


async def test_the_right_password_signs_in_and_is_recorded(
    start_bastion: StartBastion, sink: MemorySink
) -> None:
    bastion = await start_bastion({"SIGNIN_RATE_LIMIT_ACCOUNT": "5/1m"}, sinks=[sink])
    await bastion.signup("ada@example.com")

    signed_in = await bastion.services.signin.attempt("ada@example.com", PASSWORD, IP, SCOPE)

    assert signed_in.user.email == "ada@example.com"
    # The limit nearest its end is the account's 5 a minute, with this attempt counted.
    headers = signed_in.limits.headers()
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("5", "4")
    [event] = sink.of_type("auth.signin")
    assert (event.outcome, event.user_id, event.client_ip) == ("success", signed_in.user.id, IP)


async def test_unknown_account_and_wrong_password_look_the_same_and_cost_one_hash(
    start_bastion: StartBastion, sink: MemorySink, cheap_hasher: CountingHasher
) -> None:
    bastion = await start_bastion(sinks=[sink])
    await bastion.signup("ada@example.com")
    signin = bastion.services.signin

    before = cheap_hasher.calls
    with pytest.raises(InvalidCredentials) as unknown:
        await signin.attempt("nobody@example.com", PASSWORD, IP, SCOPE)
    assert cheap_hasher.calls == before + 1
    with pytest.raises(InvalidCredentials) as wrong:
        await signin.attempt("ada@example.com", "not the password", IP, SCOPE)
    assert cheap_hasher.calls == before + 2

    assert (unknown.value.detail, unknown.value.code) == (wrong.value.detail, wrong.value.code)
    reasons = [event.details["reason"] for event in sink.of_type("auth.signin")]
    assert reasons == ["unknown_account", "wrong_password"]


async def test_a_disabled_account_is_told_only_to_whoever_knows_its_password(
    start_bastion: StartBastion, sink: MemorySink
) -> None:
    bastion = await start_bastion(sinks=[sink])
    await bastion.signup("admin@example.com")
    await bastion.signup("ada@example.com")
    user = await bastion.services.users.by_email("ada@example.com")
    assert user is not None
    await bastion.services.users.set_active(user.id, False)
    signin = bastion.services.signin

    with pytest.raises(InvalidCredentials):
        await signin.attempt("ada@example.com", "not the password", IP, SCOPE)
    with pytest.raises(AccountDisabled):
        await signin.attempt("ada@example.com", PASSWORD, IP, SCOPE)
    assert sink.of_type("auth.signin")[-1].details["reason"] == "account_disabled"


async def test_the_rate_limit_refuses_before_any_password_is_hashed(
    start_bastion: StartBastion, cheap_hasher: CountingHasher
) -> None:
    bastion = await start_bastion({"SIGNIN_RATE_LIMIT_IP": "2/1m"})
    signin = bastion.services.signin
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await signin.attempt("nobody@example.com", PASSWORD, IP, SCOPE)

    before = cheap_hasher.calls
    with pytest.raises(RateLimited):
        await signin.attempt("nobody@example.com", PASSWORD, IP, SCOPE)
    assert cheap_hasher.calls == before


async def test_the_lockout_refuses_before_hashing_and_is_recorded(
    start_bastion: StartBastion, sink: MemorySink, cheap_hasher: CountingHasher
) -> None:
    bastion = await start_bastion(
        {"SIGNIN_LOCKOUT_THRESHOLD": "2", "SIGNIN_DELAY_AFTER_FAILURES": "10"}, sinks=[sink]
    )
    await bastion.signup("ada@example.com")
    signin = bastion.services.signin
    for address in ("198.51.100.1", "198.51.100.2"):
        with pytest.raises(InvalidCredentials):
            await signin.attempt("ada@example.com", "wrong", address, SCOPE)
    assert len(sink.of_type("auth.lockout")) == 1

    before = cheap_hasher.calls
    with pytest.raises(AccountLocked):
        await signin.attempt("ada@example.com", PASSWORD, IP, SCOPE)
    assert cheap_hasher.calls == before
    [hit] = sink.of_type("ratelimit.hit")
    assert (hit.details["limit"], hit.details["reason"]) == ("signin_failures", "account_locked")
