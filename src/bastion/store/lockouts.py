"""Failed sign-ins' rows: per e-mail and address (``signin_failures``), per account (``users``).

The policy (delays, the per-address cap, the threshold) is :mod:`bastion.auth.lockout`'s;
this module reads and writes the counts, each change in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.store.db import Database, epoch
from bastion.store.models import SigninFailure, User


@dataclass(frozen=True, slots=True)
class AddressFailures:
    failures: int  # consecutive failures of one address on one e-mail
    last: float  # when the latest one happened (epoch seconds)


class LockoutStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_address(self, email: str, client_ip: str) -> AddressFailures | None:
        async with self._db.session() as session:
            row = await session.get(SigninFailure, (email, client_ip))
            if row is None:
                return None
            return AddressFailures(row.failures, epoch(row.last_failure_at))

    async def count_failure(
        self, email: str, client_ip: str, now: datetime, *, user_id: str | None, lock_at: int
    ) -> tuple[int, bool]:
        """One more failure of the address on the e-mail and, given ``user_id``, on the account.

        Answers (the address's failures, whether the account was locked by this one): the
        account is locked when its count reaches ``lock_at``, in the same transaction.
        """
        dialect = postgresql if self._db.is_postgresql else sqlite
        locked = False
        async with self._db.session() as session, session.begin():
            insert = dialect.insert(SigninFailure).values(
                email=email, client_ip=client_ip, failures=1, last_failure_at=now
            )
            ip_failures = (
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["email", "client_ip"],
                        set_={
                            "failures": SigninFailure.failures + 1,
                            "last_failure_at": now,
                        },
                    ).returning(SigninFailure.failures)
                )
            ).scalar_one()
            if user_id is not None:
                locked = await _count_account_failure(session, user_id, now, lock_at)
        return ip_failures, locked

    async def clear(self, email: str, client_ip: str, *, user_id: str | None) -> None:
        """Forget the address's failures on the e-mail and, given ``user_id``, the account's."""
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(SigninFailure).where(
                    SigninFailure.email == email, SigninFailure.client_ip == client_ip
                )
            )
            if user_id is not None:
                await session.execute(
                    update(User).where(User.id == user_id).values(failed_signins=0)
                )

    async def unlock(self, email: str, user_id: str) -> None:
        """Forget every failure on the e-mail and the account's count, and lift its lock."""
        async with self._db.session() as session, session.begin():
            await session.execute(delete(SigninFailure).where(SigninFailure.email == email))
            await session.execute(
                update(User).where(User.id == user_id).values(failed_signins=0, locked_at=None)
            )


async def _count_account_failure(
    session: AsyncSession, user_id: str, now: datetime, lock_at: int
) -> bool:
    account_failures = (
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_signins=User.failed_signins + 1)
            .returning(User.failed_signins)
        )
    ).scalar_one()
    if account_failures < lock_at:
        return False
    result = await session.execute(
        update(User).where(User.id == user_id, User.locked_at.is_(None)).values(locked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
