"""Accounts: reads, writes, and the in-process cache of the account behind each token.

The cache only serves a process that sees every write (one worker); every write goes to
the database first and then drops the cached entry, so a changed role, a disabled
account or a revoked token version is seen on the very next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.roles import Role
from bastion.errors import Conflict
from bastion.store.db import Database
from bastion.store.models import User

GONE_VERSION = 2**52  # a deleted account's token version: no token carries it

if TYPE_CHECKING:
    from bastion.shared.breaker import SharedRedis

# Accounts whose record is kept while Redis vouches for their token version.
_VERSIONED_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    email: str
    name: str
    role: Role
    is_active: bool
    token_version: int
    password_hash: str
    created_at: datetime
    locked: bool = False  # too many failed sign-ins: refused until an admin unlocks it
    failed_signins: int = 0
    profile_image_url: str = ""
    is_primary: bool = False  # the first account: no other admin may demote or remove it

    def public(self) -> dict[str, str]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "profile_image_url": self.profile_image_url,
        }


def _record(row: User) -> UserRecord:
    return UserRecord(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,  # type: ignore[arg-type]
        is_active=row.is_active,
        token_version=row.token_version,
        password_hash=row.password_hash,
        created_at=row.created_at,
        locked=row.locked_at is not None,
        failed_signins=row.failed_signins,
        profile_image_url=row.profile_image_url,
        is_primary=row.is_primary,
    )


class EmailTaken(Conflict):
    code = "email_taken"
    detail = "An account with this e-mail already exists."


class LastAdmin(Conflict):
    code = "last_admin"
    detail = "This is the last active administrator: make another one first."


# What the users list may be ordered by (open-webui's order_by), and never anything else.
ORDERS = {
    "created_at": User.created_at,
    "updated_at": User.updated_at,
    "name": User.name,
    "email": User.email,
    "role": User.role,
}

# A document per account that the UI keeps (open-webui's "settings" and "info").
Document = Literal["settings", "info"]


class Users:
    def __init__(self, db: Database, *, cache: bool, shared: SharedRedis | None = None) -> None:
        self._db = db
        self._cache: dict[str, UserRecord] | None = {} if cache else None
        # With Redis, every write publishes the account's new token version there, and
        # a record is reused only while Redis still gives the version it was read under.
        self._shared = shared
        self._versioned: dict[str, UserRecord] = {}

    async def get(self, user_id: str) -> UserRecord | None:
        if self._cache is not None and (hit := self._cache.get(user_id)) is not None:
            return hit
        record = await self._fetch(user_id)
        if record is not None and self._cache is not None:
            self._cache[user_id] = record
        return record

    async def get_current(self, user_id: str, version: int) -> UserRecord | None:
        """The account, from memory while its token version is still ``version``."""
        hit = self._versioned.get(user_id)
        if hit is not None and hit.token_version == version:
            return hit
        record = await self._fetch(user_id)
        if record is not None:
            if len(self._versioned) >= _VERSIONED_CACHE_SIZE:
                self._versioned.clear()
            self._versioned[user_id] = record
        return record

    async def _fetch(self, user_id: str) -> UserRecord | None:
        async with self._db.session() as session:
            row = await session.get(User, user_id)
            return None if row is None else _record(row)

    async def by_email(self, email: str) -> UserRecord | None:
        async with self._db.session() as session:
            row = (
                await session.execute(select(User).where(User.email == email))
            ).scalar_one_or_none()
            return None if row is None else _record(row)

    async def primary(self) -> UserRecord | None:
        """The primary admin: the first account, if it was made an admin."""
        async with self._db.session() as session:
            row = await session.scalar(select(User).where(User.is_primary.is_(True)).limit(1))
            return None if row is None else _record(row)

    async def count(self) -> int:
        async with self._db.session() as session:
            return int((await session.execute(select(func.count()).select_from(User))).scalar_one())

    async def list(
        self,
        *,
        skip: int = 0,
        limit: int = 50,
        query: str | None = None,
        order_by: str = "created_at",
        descending: bool = False,
    ) -> tuple[Sequence[UserRecord], int]:
        """A page of accounts and how many match; ``query`` looks in names and e-mails."""
        matching = select(User)
        if query:
            matching = matching.where(
                User.name.icontains(query, autoescape=True)
                | User.email.icontains(query, autoescape=True)
            )
        column = ORDERS[order_by]
        ordered = matching.order_by(column.desc() if descending else column, User.id)
        async with self._db.session() as session:
            rows = (await session.execute(ordered.offset(skip).limit(limit))).scalars()
            records = [_record(row) for row in rows]
            counted = select(func.count()).select_from(matching.subquery())
            total = int((await session.execute(counted)).scalar_one())
        return records, total

    async def create(
        self,
        *,
        email: str,
        name: str,
        password_hash: str,
        role: Role,
        first_is_admin: bool,
        profile_image_url: str = "",
    ) -> UserRecord:
        """Insert an account; with ``first_is_admin`` the first account ever becomes admin.

        The count and the insert happen in one transaction that holds the table's write
        lock, so two simultaneous first sign-ups cannot both become admin.
        """
        async with self._db.session() as session, session.begin():
            await self._lock_table(session)
            first = (await session.execute(select(User.id).limit(1))).first() is None
            if first and first_is_admin:
                role = "admin"
            row = User(
                id=str(uuid.uuid4()),
                email=email,
                name=name,
                role=role,
                password_hash=password_hash,
                is_active=True,
                token_version=0,
                profile_image_url=profile_image_url,
                # The primary admin is the account made first, if it is an admin.
                is_primary=first and role == "admin",
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:
                raise EmailTaken from None
            await session.refresh(row)
            return _record(row)

    async def set_password_hash(self, user_id: str, password_hash: str, *, revoke: bool) -> None:
        """Store a new hash; ``revoke`` also ends every token issued so far."""
        values: dict[str, object] = {"password_hash": password_hash}
        if revoke:
            values["token_version"] = User.token_version + 1
        await self._update(user_id, values)

    async def set_profile(self, user_id: str, *, name: str, profile_image_url: str) -> None:
        await self._update(user_id, {"name": name, "profile_image_url": profile_image_url})

    async def set_role(self, user_id: str, role: Role) -> None:
        values: dict[str, object] = {"role": role, "token_version": User.token_version + 1}
        await self._update(user_id, values, keeps_admin=role == "admin")

    async def set_active(self, user_id: str, active: bool) -> None:
        values: dict[str, object] = {"is_active": active, "token_version": User.token_version + 1}
        await self._update(user_id, values, keeps_admin=active)

    async def update_account(
        self,
        user_id: str,
        *,
        name: str,
        email: str,
        role: Role,
        profile_image_url: str,
        password_hash: str | None,
    ) -> bool:
        """An administrator's edit of an account, in one write.

        A new password or another role ends every token the account holds (returns True
        then). Raises ``EmailTaken`` and ``LastAdmin``.
        """
        current = await self._fetch(user_id)
        if current is None:
            return False
        values: dict[str, object] = {
            "name": name,
            "email": email,
            "role": role,
            "profile_image_url": profile_image_url,
        }
        revoke = password_hash is not None or role != current.role
        if password_hash is not None:
            values["password_hash"] = password_hash
        if revoke:
            values["token_version"] = User.token_version + 1
        try:
            await self._update(user_id, values, keeps_admin=role == "admin")
        except IntegrityError:
            raise EmailTaken from None
        return revoke

    async def document(self, user_id: str, which: Document) -> dict[str, object] | None:
        column = User.settings if which == "settings" else User.info
        async with self._db.session() as session:
            value = (await session.execute(select(column).where(User.id == user_id))).scalar()
        return value if isinstance(value, dict) else None

    async def set_document(self, user_id: str, which: Document, value: dict[str, object]) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(update(User).where(User.id == user_id).values({which: value}))

    async def revoke_all_tokens(self, user_id: str) -> None:
        await self._update(user_id, {"token_version": User.token_version + 1})

    async def delete(self, user_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            await self._keep_an_admin(session, user_id)
            result = await session.execute(delete(User).where(User.id == user_id))
        await self._forget(user_id, GONE_VERSION)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _update(
        self, user_id: str, values: dict[str, object], *, keeps_admin: bool = True
    ) -> None:
        """Write ``values``; ``keeps_admin=False`` for a change that ends an admin's rights."""
        async with self._db.session() as session, session.begin():
            if not keeps_admin:
                await self._keep_an_admin(session, user_id)
            version = (
                await session.execute(
                    update(User)
                    .where(User.id == user_id)
                    .values(**values)
                    .returning(User.token_version)
                )
            ).scalar_one_or_none()
        await self._forget(user_id, version)

    async def _lock_table(self, session: AsyncSession) -> None:
        """Serialise this transaction with every other writer of accounts."""
        if self._db.is_postgresql:
            await session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        elif self._db.is_sqlite:
            await session.execute(text("UPDATE users SET id = id WHERE 0"))  # the write lock

    async def _keep_an_admin(self, session: AsyncSession, user_id: str) -> None:
        """Refuse to take ``user_id``'s admin rights if no other active admin is left.

        Counted under the table lock: two admins demoting each other at the same moment
        cannot both succeed.
        """
        await self._lock_table(session)
        target = await session.get(User, user_id)
        if target is None or target.role != "admin" or not target.is_active:
            return
        others = await session.execute(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.is_active.is_(True), User.id != user_id)
        )
        if others.scalar_one() == 0:
            raise LastAdmin

    async def _forget(self, user_id: str, version: int | None) -> None:
        if self._cache is not None:
            self._cache.pop(user_id, None)
        self._versioned.pop(user_id, None)
        if self._shared is not None and version is not None:
            # The database has the change already; Redis tells the other instances.
            await self._shared.publish(lambda redis: redis.raise_version(user_id, version))
