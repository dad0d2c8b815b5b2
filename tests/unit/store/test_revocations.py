"""The revoked-token rows: what is in force at a moment, kept once, pruned when expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bastion.store.db import Database
from bastion.store.revocations import RevocationStore

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _utc(moments: dict[str, datetime | None]) -> dict[str, datetime | None]:
    # SQLite gives stored times back naive; they are UTC.
    return {
        jti: None if moment is None else moment.replace(tzinfo=UTC)
        for jti, moment in moments.items()
    }


async def test_in_force_leaves_out_the_expired_and_keeps_the_never_expiring(db: Database) -> None:
    store = RevocationStore(db)
    await store.add("expired", "u1", expires_at=T0 - HOUR, revoked_at=T0 - 2 * HOUR)
    await store.add("at-now", "u1", expires_at=T0, revoked_at=T0 - HOUR)
    await store.add("later", "u1", expires_at=T0 + HOUR, revoked_at=T0)
    await store.add("never", "u2", expires_at=None, revoked_at=T0)
    assert _utc(await store.in_force(T0)) == {"later": T0 + HOUR, "never": None}
    assert await store.contains("expired") and await store.contains("never")
    assert not await store.contains("unknown")


async def test_a_second_revocation_of_a_token_keeps_the_first(db: Database) -> None:
    store = RevocationStore(db)
    await store.add("jti", "u1", expires_at=T0 + HOUR, revoked_at=T0)
    await store.add("jti", "u1", expires_at=None, revoked_at=T0 + HOUR)
    assert _utc(await store.in_force(T0)) == {"jti": T0 + HOUR}


async def test_prune_deletes_only_revocations_of_expired_tokens(db: Database) -> None:
    store = RevocationStore(db)
    await store.add("old", "u1", expires_at=T0 - 2 * HOUR, revoked_at=T0 - 3 * HOUR)
    await store.add("older", "u1", expires_at=T0 - 3 * HOUR, revoked_at=T0 - 4 * HOUR)
    await store.add("live", "u1", expires_at=T0 + HOUR, revoked_at=T0)
    await store.add("never", "u1", expires_at=None, revoked_at=T0)
    assert await store.prune(T0) == 2
    assert not await store.contains("old") and not await store.contains("older")
    assert _utc(await store.in_force(T0 - 5 * HOUR)) == {"live": T0 + HOUR, "never": None}
    assert await store.prune(T0) == 0
