"""Rows of single sign-on: identities, sign-ins under way, sign-ins made, logouts seen.

Policy (what is refused, what is revoked) lives in :mod:`bastion.auth.oidc`; this module
only reads and writes the ``oidc_*`` tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from bastion.store.db import Database
from bastion.store.models import OidcFlow, OidcIdentity, OidcLogin, OidcSeenLogout


@dataclass(frozen=True, slots=True)
class Flow:
    state: str
    nonce: str
    code_verifier: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Login:
    jti: str
    user_id: str
    issuer: str
    subject: str
    sid: str | None  # the provider's session
    session_id: str | None  # Bastion's
    expires_at: datetime | None
    tokens: str  # sealed


class OidcStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_flow(self, flow: Flow) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                OidcFlow(
                    state=flow.state,
                    nonce=flow.nonce,
                    code_verifier=flow.code_verifier,
                    created_at=flow.created_at,
                )
            )

    async def take_flow(self, state: str) -> Flow | None:
        """The flow of ``state``, deleted in the same transaction: only one caller gets it."""
        async with self._db.session() as session, session.begin():
            row = await session.get(OidcFlow, state)
            if row is None:
                return None
            result = await session.execute(delete(OidcFlow).where(OidcFlow.state == state))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None  # taken meanwhile by another instance
            return Flow(row.state, row.nonce, row.code_verifier, row.created_at)

    async def prune_flows(self, before: datetime) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(OidcFlow).where(OidcFlow.created_at < before))

    async def user_of(self, issuer: str, subject: str) -> str | None:
        async with self._db.session() as session:
            row = await session.get(OidcIdentity, (issuer, subject))
            return None if row is None else row.user_id

    async def link(self, issuer: str, subject: str, user_id: str, now: datetime) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                OidcIdentity(issuer=issuer, subject=subject, user_id=user_id, created_at=now)
            )

    async def add_login(self, login: Login, now: datetime) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                OidcLogin(
                    jti=login.jti,
                    user_id=login.user_id,
                    issuer=login.issuer,
                    subject=login.subject,
                    sid=login.sid,
                    session_id=login.session_id,
                    expires_at=login.expires_at,
                    tokens=login.tokens,
                    created_at=now,
                )
            )

    async def login(self, jti: str) -> Login | None:
        async with self._db.session() as session:
            row = await session.get(OidcLogin, jti)
            return None if row is None else _login(row)

    async def logins(self, issuer: str, *, sid: str | None, subject: str | None) -> list[Login]:
        """The sign-ins of a provider session (``sid``) or of a provider account."""
        query = select(OidcLogin).where(OidcLogin.issuer == issuer)
        if sid is not None:
            query = query.where(OidcLogin.sid == sid)
        if subject is not None:
            query = query.where(OidcLogin.subject == subject)
        async with self._db.session() as session:
            return [_login(row) for row in (await session.execute(query)).scalars()]

    async def set_tokens(self, jti: str, tokens: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(OidcLogin).where(OidcLogin.jti == jti).values(tokens=tokens)
            )

    async def forget_login(self, jti: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(OidcLogin).where(OidcLogin.jti == jti))

    async def first_sight_of_logout(self, issuer: str, jti: str, now: datetime) -> bool:
        """Record a logout token's ``jti``; False if it was recorded before (a replay)."""
        dialect = postgresql if self._db.is_postgresql else sqlite
        async with self._db.session() as session, session.begin():
            try:
                result = await session.execute(
                    dialect.insert(OidcSeenLogout)
                    .values(issuer=issuer, jti=jti, seen_at=now)
                    .on_conflict_do_nothing()
                )
            except IntegrityError:
                return False
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _login(row: OidcLogin) -> Login:
    return Login(
        jti=row.jti,
        user_id=row.user_id,
        issuer=row.issuer,
        subject=row.subject,
        sid=row.sid,
        session_id=row.session_id,
        expires_at=row.expires_at,
        tokens=row.tokens,
    )
