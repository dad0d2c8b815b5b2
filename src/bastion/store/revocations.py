"""Revoked tokens' rows: one per signed-out token, kept until it would have expired.

Which checks ask the database, and what is cached or copied to Redis, is decided in
:mod:`bastion.auth.revocation`; this module only reads and writes ``revoked_tokens``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from bastion.store.db import Database
from bastion.store.models import RevokedToken


class RevocationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def in_force(self, now: datetime) -> dict[str, datetime | None]:
        """jti -> expiry (None: never) of every revocation still in force at ``now``."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(RevokedToken.jti, RevokedToken.expires_at).where(
                    or_(RevokedToken.expires_at.is_(None), RevokedToken.expires_at > now)
                )
            )
            return {jti: expires_at for jti, expires_at in rows}

    async def contains(self, jti: str) -> bool:
        async with self._db.session() as session:
            return await session.get(RevokedToken, jti) is not None

    async def contains_any(self, *ids: str) -> bool:
        """Whether any of ``ids`` (a token's jti, its session's id) is revoked: one query."""
        async with self._db.session() as session:
            found = await session.scalar(
                select(RevokedToken.jti).where(RevokedToken.jti.in_(ids)).limit(1)
            )
            return found is not None

    async def add(
        self, jti: str, user_id: str, *, expires_at: datetime | None, revoked_at: datetime
    ) -> None:
        """Record a revocation; one already recorded for ``jti`` is kept as it is."""
        values = {
            "jti": jti,
            "user_id": user_id,
            "expires_at": expires_at,
            "revoked_at": revoked_at,
        }
        async with self._db.session() as session, session.begin():
            dialect = postgresql if self._db.is_postgresql else sqlite
            await session.execute(
                dialect.insert(RevokedToken).values(**values).on_conflict_do_nothing()
            )

    async def prune(self, before: datetime) -> int:
        """Delete the revocations of tokens that expired before ``before``; how many went."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                delete(RevokedToken).where(RevokedToken.expires_at < before)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]
