"""The repositories' PostgreSQL statements (upserts, ``ON CONFLICT``) on a real server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bastion.store.lockouts import AddressFailures, LockoutStore
from bastion.store.revocations import RevocationStore
from bastion.store.users import LastAdmin, Users
from tests.support import StartBastion

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


async def test_failures_are_counted_and_the_account_locked_on_postgresql(
    start_bastion: StartBastion, postgres_database: str
) -> None:
    bastion = await start_bastion({"DATABASE_URL": postgres_database})
    users = Users(bastion.services.db, cache=False)
    user = await users.create(
        email="a@example.com", name="A", password_hash="unused", role="user", first_is_admin=False
    )
    store = LockoutStore(bastion.services.db)
    answers = [
        await store.count_failure(
            user.email, "10.0.0.1", T0 + timedelta(seconds=i), user_id=user.id, lock_at=3
        )
        for i in range(4)
    ]
    assert answers == [(1, False), (2, False), (3, True), (4, False)]
    assert await store.of_address(user.email, "10.0.0.1") == AddressFailures(
        4, (T0 + timedelta(seconds=3)).timestamp()
    )
    record = await users.get(user.id)
    assert record is not None and (record.locked, record.failed_signins) == (True, 4)


async def test_a_token_revoked_twice_keeps_its_first_row_on_postgresql(
    start_bastion: StartBastion, postgres_database: str
) -> None:
    bastion = await start_bastion({"DATABASE_URL": postgres_database})
    store = RevocationStore(bastion.services.db)
    await store.add("jti", "u1", expires_at=T0 + timedelta(hours=1), revoked_at=T0)
    await store.add("jti", "u1", expires_at=None, revoked_at=T0 + timedelta(hours=1))
    assert await store.in_force(T0) == {"jti": T0 + timedelta(hours=1)}
    assert await store.prune(T0 + timedelta(hours=2)) == 1
    assert not await store.contains("jti")


async def test_a_session_revoked_and_its_activity_on_postgresql(
    start_bastion: StartBastion, postgres_database: str
) -> None:
    bastion = await start_bastion({"DATABASE_URL": postgres_database})
    user = await bastion.signup("ada@example.com")
    claims = bastion.services.tokens.verify(user["token"])
    sessions = bastion.services.sessions
    revocations = RevocationStore(bastion.services.db)
    assert not await revocations.contains_any(claims.jti, claims.sid)
    later = datetime.fromtimestamp(claims.issued_at + 120, UTC)
    await sessions.store.touch({claims.sid: later})
    await sessions.store.touch({claims.sid: later - timedelta(seconds=60)})  # never back
    record = await sessions.store.get(claims.sid)
    assert record is not None and record.last_active_at == later
    assert await sessions.store.end([claims.sid], "revoked", later) == [claims.sid]
    assert await sessions.store.end([claims.sid], "revoked", later) == []
    await bastion.services.revocations.revoke(claims.sid, claims.sub, claims.expires_at)
    assert await revocations.contains_any(claims.jti, claims.sid)
    assert (await bastion.me(user["token"])).status_code == 401


async def test_two_admins_demoting_each_other_at_once_leave_one_on_postgresql(
    start_bastion: StartBastion, postgres_database: str
) -> None:
    bastion = await start_bastion({"DATABASE_URL": postgres_database})
    users = Users(bastion.services.db, cache=False)
    ids = [
        (
            await users.create(
                email=f"{name}@example.com",
                name=name,
                password_hash="unused",
                role="admin",
                first_is_admin=False,
            )
        ).id
        for name in ("a", "b")
    ]
    results = await asyncio.gather(
        *(users.set_role(user_id, "user") for user_id in ids), return_exceptions=True
    )
    assert sum(isinstance(result, LastAdmin) for result in results) == 1
    roles = sorted([(await users.get(user_id)).role for user_id in ids])  # type: ignore[union-attr]
    assert roles == ["admin", "user"]
