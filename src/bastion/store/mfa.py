"""Second factors' rows: TOTP secrets, recovery codes, pending steps and passkeys.

The policy is :mod:`bastion.auth.mfa`'s; every check-and-change here is one statement or
one transaction, so two instances racing on the same code or challenge cannot both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from bastion.store.db import Database
from bastion.store.models import MfaChallenge, MfaRecoveryCode, MfaTotp, WebauthnCredential


@dataclass(frozen=True, slots=True)
class TotpRecord:
    secret: str  # sealed
    confirmed: bool
    last_step: int | None


@dataclass(frozen=True, slots=True)
class Challenge:
    purpose: str
    user_id: str | None
    token_version: int | None
    challenge: str
    attempts: int


@dataclass(frozen=True, slots=True)
class PasskeyRecord:
    id: str
    user_id: str
    credential_id: str
    public_key: str
    sign_count: int
    name: str
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": int(self.created_at.timestamp()),
            "last_used_at": None
            if self.last_used_at is None
            else int(self.last_used_at.timestamp()),
        }


def _passkey(row: WebauthnCredential) -> PasskeyRecord:
    return PasskeyRecord(
        id=row.id,
        user_id=row.user_id,
        credential_id=row.credential_id,
        public_key=row.public_key,
        sign_count=row.sign_count,
        name=row.name,
        transports=list(row.transports or []),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


class MfaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # TOTP ----------------------------------------------------------------------------

    async def totp(self, user_id: str) -> TotpRecord | None:
        async with self._db.session() as session:
            row = await session.get(MfaTotp, user_id)
            if row is None:
                return None
            return TotpRecord(row.secret, row.confirmed_at is not None, row.last_step)

    async def start_totp(self, user_id: str, sealed: str, now: datetime) -> bool:
        """Keep a new, unconfirmed secret; False if TOTP is already on for the account."""
        async with self._db.session() as session, session.begin():
            row = await session.get(MfaTotp, user_id)
            if row is not None and row.confirmed_at is not None:
                return False
            if row is None:
                session.add(MfaTotp(user_id=user_id, secret=sealed, created_at=now))
            else:
                row.secret, row.created_at, row.last_step = sealed, now, None
        return True

    async def use_step(self, user_id: str, step: int, *, confirm_at: datetime | None) -> bool:
        """Record ``step`` as used if it is later than the last one; False if it is not.

        One conditional UPDATE: of two requests with the same code only one succeeds.
        """
        values: dict[str, object] = {"last_step": step}
        if confirm_at is not None:
            values["confirmed_at"] = confirm_at
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(MfaTotp)
                .where(
                    MfaTotp.user_id == user_id,
                    (MfaTotp.last_step.is_(None)) | (MfaTotp.last_step < step),
                )
                .values(values)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def reseal(self, user_id: str, old: str, new: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(MfaTotp)
                .where(MfaTotp.user_id == user_id, MfaTotp.secret == old)
                .values(secret=new)
            )

    async def remove_totp(self, user_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(MfaTotp).where(MfaTotp.user_id == user_id))
            await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))

    # Recovery codes --------------------------------------------------------------------

    async def set_recovery_codes(self, user_id: str, hashes: Sequence[str]) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
            session.add_all(MfaRecoveryCode(user_id=user_id, code_hash=h) for h in hashes)

    async def use_recovery_code(self, user_id: str, code_hash: str, now: datetime) -> bool:
        """Spend the code; False if there is no such unspent code."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(MfaRecoveryCode)
                .where(
                    MfaRecoveryCode.user_id == user_id,
                    MfaRecoveryCode.code_hash == code_hash,
                    MfaRecoveryCode.used_at.is_(None),
                )
                .values(used_at=now)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def recovery_codes_left(self, user_id: str) -> int:
        async with self._db.session() as session:
            counted = select(func.count()).where(
                MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None)
            )
            return int((await session.execute(counted)).scalar_one())

    # Pending steps ---------------------------------------------------------------------

    async def add_challenge(
        self,
        key: str,
        *,
        purpose: str,
        user_id: str | None,
        token_version: int | None,
        challenge: str,
        expires_at: datetime,
        now: datetime,
    ) -> None:
        async with self._db.session() as session, session.begin():
            # Expired ones go as new ones come: the table holds only live steps.
            await session.execute(delete(MfaChallenge).where(MfaChallenge.expires_at <= now))
            session.add(
                MfaChallenge(
                    id=key,
                    purpose=purpose,
                    user_id=user_id,
                    token_version=token_version,
                    challenge=challenge,
                    attempts=0,
                    expires_at=expires_at,
                )
            )

    async def attempt_challenge(
        self, key: str, purpose: str, now: datetime, *, max_attempts: int
    ) -> Challenge | None:
        """Count one attempt on a live challenge; None if it is gone, expired or spent."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(MfaChallenge)
                .where(
                    MfaChallenge.id == key,
                    MfaChallenge.purpose == purpose,
                    MfaChallenge.expires_at > now,
                    MfaChallenge.attempts < max_attempts,
                )
                .values(attempts=MfaChallenge.attempts + 1)
                .returning(
                    MfaChallenge.user_id,
                    MfaChallenge.token_version,
                    MfaChallenge.challenge,
                    MfaChallenge.attempts,
                )
            )
            row = result.first()
        if row is None:
            return None
        return Challenge(purpose, row[0], row[1], row[2], row[3])

    async def take_challenge(self, key: str, purpose: str, now: datetime) -> Challenge | None:
        """Remove a live challenge and give it; None if another request took it first."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                delete(MfaChallenge)
                .where(
                    MfaChallenge.id == key,
                    MfaChallenge.purpose == purpose,
                    MfaChallenge.expires_at > now,
                )
                .returning(
                    MfaChallenge.user_id,
                    MfaChallenge.token_version,
                    MfaChallenge.challenge,
                    MfaChallenge.attempts,
                )
            )
            row = result.first()
        if row is None:
            return None
        return Challenge(purpose, row[0], row[1], row[2], row[3])

    async def drop_challenges(self, user_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(MfaChallenge).where(MfaChallenge.user_id == user_id))

    # Passkeys --------------------------------------------------------------------------

    async def passkeys(self, user_id: str) -> list[PasskeyRecord]:
        async with self._db.session() as session:
            rows = await session.execute(
                select(WebauthnCredential)
                .where(WebauthnCredential.user_id == user_id)
                .order_by(WebauthnCredential.created_at, WebauthnCredential.id)
            )
            return [_passkey(row) for row in rows.scalars()]

    async def passkey_by_credential(self, credential_id: str) -> PasskeyRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(WebauthnCredential).where(WebauthnCredential.credential_id == credential_id)
            )
            return None if row is None else _passkey(row)

    async def add_passkey(
        self,
        user_id: str,
        *,
        credential_id: str,
        public_key: str,
        sign_count: int,
        name: str,
        transports: list[str],
        now: datetime,
    ) -> PasskeyRecord:
        row = WebauthnCredential(
            id=str(uuid.uuid4()),
            user_id=user_id,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            name=name,
            transports=transports,
            created_at=now,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
        return _passkey(row)

    async def use_passkey(
        self, passkey_id: str, old_count: int, new_count: int, now: datetime
    ) -> bool:
        """Store the new counter if the stored one is still ``old_count`` (no race won twice)."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(WebauthnCredential)
                .where(
                    WebauthnCredential.id == passkey_id, WebauthnCredential.sign_count == old_count
                )
                .values(sign_count=new_count, last_used_at=now)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def remove_passkey(self, user_id: str, passkey_id: str) -> PasskeyRecord | None:
        async with self._db.session() as session, session.begin():
            row = await session.scalar(
                select(WebauthnCredential).where(
                    WebauthnCredential.id == passkey_id, WebauthnCredential.user_id == user_id
                )
            )
            if row is None:
                return None
            record = _passkey(row)
            await session.delete(row)
        return record

    async def remove_all(self, user_id: str) -> None:
        """Every factor of the account (an administrator's reset)."""
        async with self._db.session() as session, session.begin():
            for table in (MfaTotp, MfaRecoveryCode, MfaChallenge, WebauthnCredential):
                await session.execute(delete(table).where(table.user_id == user_id))
