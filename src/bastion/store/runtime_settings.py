"""The variables changed at run time, and their version, in one transaction each."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.store.db import Database
from bastion.store.models import RuntimeSetting, RuntimeSettingsVersion


class RuntimeSettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def version(self) -> int:
        async with self._db.session() as session:
            value = await session.scalar(
                select(RuntimeSettingsVersion.version).where(RuntimeSettingsVersion.id == 1)
            )
        return int(value or 0)

    async def read(self) -> tuple[int, dict[str, str]]:
        """The version and every variable stored under it, read together."""
        async with self._db.session() as session, session.begin():
            version = await session.scalar(
                select(RuntimeSettingsVersion.version).where(RuntimeSettingsVersion.id == 1)
            )
            rows = await session.scalars(select(RuntimeSetting))
            return int(version or 0), {row.name: row.value for row in rows}

    async def save(self, values: Mapping[str, str], *, by: str | None, at: datetime) -> int:
        """Store ``values`` over what is stored and bump the version; the new version."""
        async with self._db.session() as session, session.begin():
            for name, value in values.items():
                await session.merge(
                    RuntimeSetting(name=name, value=value, updated_by=by, updated_at=at)
                )
            return await self._bump(session)

    async def clear(self) -> int:
        """Forget every stored variable (the environment wins again); the new version."""
        async with self._db.session() as session, session.begin():
            await session.execute(delete(RuntimeSetting))
            return await self._bump(session)

    @staticmethod
    async def _bump(session: AsyncSession) -> int:
        result = await session.execute(
            update(RuntimeSettingsVersion)
            .where(RuntimeSettingsVersion.id == 1)
            .values(version=RuntimeSettingsVersion.version + 1)
            .returning(RuntimeSettingsVersion.version)
        )
        return int(result.scalar_one())
