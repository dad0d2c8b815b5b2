"""The failed-sign-in rows: per e-mail and address, per account, the lock at the threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bastion.store.db import Database
from bastion.store.lockouts import AddressFailures, LockoutStore
from bastion.store.users import Users
from tests.unit.store.support import NewUser

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


async def test_failures_are_counted_per_email_and_address(db: Database) -> None:
    store = LockoutStore(db)
    assert await store.of_address("a@example.com", "10.0.0.1") is None
    for second in range(3):
        counted = await store.count_failure(
            "a@example.com", "10.0.0.1", T0 + timedelta(seconds=second), user_id=None, lock_at=5
        )
        assert counted == (second + 1, False)
    assert await store.count_failure("a@example.com", "10.0.0.2", T0, user_id=None, lock_at=5) == (
        1,
        False,
    )
    assert await store.count_failure("b@example.com", "10.0.0.1", T0, user_id=None, lock_at=5) == (
        1,
        False,
    )
    assert await store.of_address("a@example.com", "10.0.0.1") == AddressFailures(
        3, (T0 + timedelta(seconds=2)).timestamp()
    )


async def test_the_account_is_locked_by_the_failure_that_reaches_the_threshold(
    db: Database, users: Users, new_user: NewUser
) -> None:
    store = LockoutStore(db)
    user = await new_user("a@example.com")
    answers = [
        await store.count_failure(user.email, f"10.0.0.{i}", T0, user_id=user.id, lock_at=3)
        for i in range(5)
    ]
    # Every address has one failure; only the third failure on the account locks it.
    assert answers == [(1, False), (1, False), (1, True), (1, False), (1, False)]
    record = await users.get(user.id)
    assert record is not None and (record.locked, record.failed_signins) == (True, 5)


async def test_failures_without_an_account_leave_accounts_alone(
    db: Database, users: Users, new_user: NewUser
) -> None:
    store = LockoutStore(db)
    user = await new_user("a@example.com")
    assert await store.count_failure(user.email, "10.0.0.1", T0, user_id=None, lock_at=1) == (
        1,
        False,
    )
    record = await users.get(user.id)
    assert record is not None and (record.locked, record.failed_signins) == (False, 0)


async def test_clear_forgets_one_address_and_the_account_count_when_asked(
    db: Database, users: Users, new_user: NewUser
) -> None:
    store = LockoutStore(db)
    user = await new_user("a@example.com")
    for ip in ("10.0.0.1", "10.0.0.2"):
        await store.count_failure(user.email, ip, T0, user_id=user.id, lock_at=10)
    await store.clear(user.email, "10.0.0.1", user_id=None)
    assert await store.of_address(user.email, "10.0.0.1") is None
    assert await store.of_address(user.email, "10.0.0.2") == AddressFailures(1, T0.timestamp())
    record = await users.get(user.id)
    assert record is not None and record.failed_signins == 2
    await store.clear(user.email, "10.0.0.1", user_id=user.id)
    record = await users.get(user.id)
    assert record is not None and record.failed_signins == 0
    assert await store.of_address(user.email, "10.0.0.2") == AddressFailures(1, T0.timestamp())


async def test_unlock_lifts_the_lock_and_forgets_every_address(
    db: Database, users: Users, new_user: NewUser
) -> None:
    store = LockoutStore(db)
    user = await new_user("a@example.com")
    other = await new_user("b@example.com")
    for ip in ("10.0.0.1", "10.0.0.2"):
        await store.count_failure(user.email, ip, T0, user_id=user.id, lock_at=2)
    await store.count_failure(other.email, "10.0.0.1", T0, user_id=other.id, lock_at=2)
    await store.unlock(user.email, user.id)
    record = await users.get(user.id)
    assert record is not None and (record.locked, record.failed_signins) == (False, 0)
    assert await store.of_address(user.email, "10.0.0.1") is None
    assert await store.of_address(user.email, "10.0.0.2") is None
    assert await store.of_address(other.email, "10.0.0.1") == AddressFailures(1, T0.timestamp())
    # Counting starts again from nothing, for the address and for the account.
    later = T0 + timedelta(minutes=1)
    assert await store.count_failure(user.email, "10.0.0.1", later, user_id=user.id, lock_at=2) == (
        1,
        False,
    )
    record = await users.get(user.id)
    assert record is not None and (record.locked, record.failed_signins) == (False, 1)
