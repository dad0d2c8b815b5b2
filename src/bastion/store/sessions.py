"""Session rows: one per sign-in. Which checks read them, and when, is decided in
:mod:`bastion.auth.sessions`; this module only reads and writes ``sessions``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from bastion.store.db import Database
from bastion.store.models import SessionRow


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    user_id: str
    token_version: int
    method: str
    ip: str
    device: str
    browser: str
    created_at: datetime
    last_active_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _record(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        token_version=row.token_version,
        method=row.method,
        ip=row.ip,
        device=row.device,
        browser=row.browser,
        created_at=_utc(row.created_at),
        last_active_at=_utc(row.last_active_at),
        expires_at=None if row.expires_at is None else _utc(row.expires_at),
        ended_at=None if row.ended_at is None else _utc(row.ended_at),
        end_reason=row.end_reason,
    )


class SessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: SessionRecord) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                SessionRow(
                    id=record.id,
                    user_id=record.user_id,
                    token_version=record.token_version,
                    method=record.method,
                    ip=record.ip,
                    device=record.device,
                    browser=record.browser,
                    created_at=record.created_at,
                    last_active_at=record.last_active_at,
                    expires_at=record.expires_at,
                )
            )

    async def get(self, session_id: str) -> SessionRecord | None:
        async with self._db.session() as session:
            row = await session.get(SessionRow, session_id)
            return None if row is None else _record(row)

    async def open_for(self, user_id: str) -> list[SessionRecord]:
        """The account's sessions not ended, newest activity first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(SessionRow)
                .where(SessionRow.user_id == user_id, SessionRow.ended_at.is_(None))
                .order_by(SessionRow.last_active_at.desc(), SessionRow.id)
            )
            return [_record(row) for row in rows]

    async def end(self, session_ids: list[str], reason: str, at: datetime) -> list[str]:
        """Mark the sessions ended (those already ended stay as they were); which ended."""
        if not session_ids:
            return []
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(SessionRow)
                .where(SessionRow.id.in_(session_ids), SessionRow.ended_at.is_(None))
                .values(ended_at=at, end_reason=reason)
                .returning(SessionRow.id)
            )
            return list(result.scalars())

    async def touch(self, active: Mapping[str, datetime]) -> None:
        """Write when each session (id -> time) was last active, never moving a time back."""
        async with self._db.session() as session, session.begin():
            for session_id, at in active.items():
                await session.execute(
                    update(SessionRow)
                    .where(
                        SessionRow.id == session_id,
                        SessionRow.last_active_at < at,
                    )
                    .values(last_active_at=at)
                )
