"""API keys' rows: stored by the SHA-256 of the key, never the key itself.

What a key may do, when it expires and how often its use is written down is decided in
:mod:`bastion.auth.api_keys`; this module only reads and writes the ``api_keys`` table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Update, or_, select, update

from bastion.store.db import Database
from bastion.store.models import ApiKey


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "last_used_at": None if self.last_used_at is None else self.last_used_at.isoformat(),
        }


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _record(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes or ()),
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        expires_at=_utc(row.expires_at),
        last_used_at=_utc(row.last_used_at),
        revoked_at=_utc(row.revoked_at),
    )


class ApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: ApiKeyRecord, *, key_hash: str) -> None:
        row = ApiKey(
            id=record.id,
            user_id=record.user_id,
            name=record.name,
            key_hash=key_hash,
            prefix=record.prefix,
            scopes=list(record.scopes),
            created_at=record.created_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
            revoked_at=record.revoked_at,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)

    async def unrevoked(self, user_id: str) -> list[ApiKeyRecord]:
        """The account's keys that are not revoked (expired ones included), oldest first."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(ApiKey)
                .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                .order_by(ApiKey.created_at)
            )
            return [_record(row) for row in rows.scalars()]

    async def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        async with self._db.session() as session:
            row = (
                await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
            ).scalar_one_or_none()
            return None if row is None else _record(row)

    async def revoke(self, user_id: str, key_id: str, at: datetime) -> str | None:
        """Revoke the account's key: its hash, or None when it has no such key not revoked."""
        return await self._change(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def set_scopes(self, user_id: str, key_id: str, scopes: Sequence[str]) -> str | None:
        """Replace the path scopes of the account's live key: its hash, or None."""
        return await self._change(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(scopes=list(scopes))
        )

    async def _change(self, statement: Update) -> str | None:
        async with self._db.session() as session, session.begin():
            return (
                await session.execute(statement.returning(ApiKey.key_hash))
            ).scalar_one_or_none()

    async def touch(self, used: Mapping[str, datetime]) -> None:
        """Write when each key (id -> time) was last used, never moving a time back."""
        async with self._db.session() as session, session.begin():
            for key_id, at in used.items():
                await session.execute(
                    update(ApiKey)
                    .where(
                        ApiKey.id == key_id,
                        or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at),
                    )
                    .values(last_used_at=at)
                )
