"""Sessions: one per sign-in, listed to their owner, revocable one by one, and ended by
idleness (``SESSION_IDLE_TIMEOUT``) or age (``SESSION_ABSOLUTE_TIMEOUT``).

Each token carries its session's id (``sid``). Revoking a session writes its id to the
revocation list the token ids are in, so the request's one revocation look-up (a dict, a
database query, or the Redis script) answers for both: no extra round trip.

Last activity is noted at most once a minute per session (``LAST_USED_RESOLUTION``) and
written off the request path. With Redis the script that checks the token also keeps the
session's last activity and says which request of the minute is the one to write it, so
all instances together write it once a minute. The idle check uses that same value (from
Redis, or this process's note), and asks the database only when that value says the
session may be idle, or is unknown (its first request here): a session that is used
costs nothing more. As the value is at most a minute behind the real last request, a
session ends between ``idle`` and ``idle`` + 1 minute after its last request, never early.

Ending a session by the account's token version (password or role change, disabled,
deleted: every token refused at once) is seen when the sessions are listed: those of an
older version are marked ended there.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.types import Scope

from bastion.audit.events import Actor, SecurityEvents
from bastion.auth.last_use import LAST_USED_RESOLUTION, LastUse
from bastion.auth.revocation import Revocations
from bastion.auth.tokens import TokenClaims
from bastion.auth.user_agent import summarise
from bastion.errors import NotAuthenticated, NotFound
from bastion.store.db import epoch
from bastion.store.sessions import SessionRecord, SessionStore

if TYPE_CHECKING:
    from bastion.shared.redis import SessionActivity

# Kept in Redis a little longer than a session can live: a lost value means "ask".
_ACTIVITY_MARGIN_S = 3600.0


class SessionExpired(NotAuthenticated):
    code = "session_expired"
    detail = "The session has expired; sign in again."


class SessionEnded(NotAuthenticated):
    code = "token_revoked"
    detail = "The session has ended."


class NoSuchSession(NotFound):
    code = "session_not_found"
    detail = "No such session."


@dataclass(frozen=True, slots=True)
class SessionView:
    record: SessionRecord
    current: bool

    def public(self) -> dict[str, object]:
        record = self.record
        return {
            "id": record.id,
            "created_at": record.created_at.isoformat(),
            "last_active_at": record.last_active_at.isoformat(),
            "ip": record.ip,
            "device": record.device,
            "browser": record.browser,
            "method": record.method,
            "current": self.current,
        }


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        revocations: Revocations,
        events: SecurityEvents,
        *,
        idle: timedelta,
        absolute: timedelta,
        clock: Callable[[], float] = time.time,
        resolution: float = LAST_USED_RESOLUTION,
    ) -> None:
        self.store = store
        self._revocations = revocations
        self._events = events
        self.idle = idle.total_seconds()
        self.absolute = absolute.total_seconds()
        self._clock = clock
        self.resolution = resolution
        self.activity = LastUse(store, clock=clock, resolution=resolution, what="session")

    def new_id(self) -> str:
        return secrets.token_hex(16)  # 128 random bits, like a token's jti

    async def start(
        self,
        session_id: str,
        user_id: str,
        token_version: int,
        *,
        method: str,
        expires_at: int | None,
        scope: Scope,
    ) -> SessionRecord:
        """Record a sign-in (the token naming ``session_id`` is issued by the caller)."""
        now = self._clock()
        client = scope.get("client")
        user_agent = None
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
        summary = summarise(user_agent)
        moment = datetime.fromtimestamp(now, UTC)
        record = SessionRecord(
            id=session_id,
            user_id=user_id,
            token_version=token_version,
            method=method,
            ip=(str(client[0]) if client else "unknown")[:64],
            device=summary.device,
            browser=summary.browser,
            created_at=moment,
            last_active_at=moment,
            expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, UTC),
            ended_at=None,
            end_reason=None,
        )
        await self.store.add(record)
        self.activity.remember(session_id, now)
        self._events.record(
            "session.created", scope=scope, user_id=user_id, session_id=session_id, method=method
        )
        return record

    # The request path -------------------------------------------------------------

    def redis_activity(self) -> SessionActivity:
        """What the Redis token check needs to keep and throttle last activity."""
        from bastion.shared.redis import SessionActivity

        return SessionActivity(
            resolution=self.resolution,
            stale_after=self.idle + self.resolution,
            ttl=self.absolute + _ACTIVITY_MARGIN_S,
        )

    async def check_shared(
        self, claims: TokenClaims, last: float | None, write: bool, scope: Scope | None
    ) -> None:
        """After the Redis check: ``last`` is the activity it held (None: unknown)."""
        now = self._clock()
        await self._check_age(claims, now, scope)
        if last is None or self._idle(last, now):
            last = await self._stored_activity(claims, last)
            if self._idle(last, now):
                await self._expire(claims, "idle", scope)
        if write:
            self.activity.queue(claims.sid, now)

    async def check_local(self, claims: TokenClaims, scope: Scope | None) -> None:
        """Without Redis: this process's note of the activity, the database when in doubt."""
        now = self._clock()
        await self._check_age(claims, now, scope)
        last = self.activity.noted_at(claims.sid)
        if last is None or self._idle(last, now):
            last = await self._stored_activity(claims, last)
            self.activity.remember(claims.sid, last)
            if self._idle(last, now):
                await self._expire(claims, "idle", scope)
        self.activity.note(claims.sid)

    def _idle(self, last: float, now: float) -> bool:
        # ``last`` is up to one resolution behind the last request: never end it early.
        return now - last > self.idle + self.resolution

    async def _check_age(self, claims: TokenClaims, now: float, scope: Scope | None) -> None:
        # A session's one token is issued when it starts.
        if now - claims.issued_at >= self.absolute:
            await self._expire(claims, "absolute", scope)

    async def _stored_activity(self, claims: TokenClaims, known: float | None) -> float:
        record = await self.store.get(claims.sid)
        if record is None or record.ended_at is not None or record.user_id != claims.sub:
            raise SessionEnded
        stored = epoch(record.last_active_at)
        return stored if known is None else max(known, stored)

    async def _expire(self, claims: TokenClaims, reason: str, scope: Scope | None) -> None:
        at = datetime.fromtimestamp(self._clock(), UTC)
        if await self.store.end([claims.sid], reason, at):
            await self._revocations.revoke(claims.sid, claims.sub, claims.expires_at)
            self._events.record(
                "session.expired",
                outcome="denied",
                scope=scope,
                user_id=claims.sub,
                session_id=claims.sid,
                reason=reason,
            )
        raise SessionExpired

    # The owner's and administrators' view -------------------------------------------

    async def listed(
        self, user_id: str, token_version: int, current: str | None
    ) -> list[SessionView]:
        """The account's live sessions; those ended meanwhile are marked ended here."""
        now = self._clock()
        live: list[SessionView] = []
        ended: dict[str, list[str]] = {}
        for record in await self.store.open_for(user_id):
            reason = self._ended_by(record, token_version, now)
            if reason is None:
                live.append(SessionView(record, current=record.id == current))
            else:
                ended.setdefault(reason, []).append(record.id)
        at = datetime.fromtimestamp(now, UTC)
        for reason, ids in ended.items():
            await self.store.end(ids, reason, at)
        return live

    def _ended_by(self, record: SessionRecord, token_version: int, now: float) -> str | None:
        if record.token_version != token_version:
            return "all_revoked"
        if record.expires_at is not None and epoch(record.expires_at) <= now:
            return "token_expired"
        if now - epoch(record.created_at) >= self.absolute:
            return "absolute"
        noted = self.activity.noted_at(record.id)
        last = (
            epoch(record.last_active_at)
            if noted is None
            else max(noted, epoch(record.last_active_at))
        )
        if self._idle(last, now):
            return "idle"
        return None

    async def revoke(
        self,
        user_id: str,
        token_version: int,
        session_id: str,
        *,
        reason: str,
        actor: Actor,
        scope: Scope,
    ) -> None:
        """End one of the account's live sessions; its token is refused everywhere at once."""
        live = {
            view.record.id: view.record for view in await self.listed(user_id, token_version, None)
        }
        record = live.get(session_id)
        if record is None:
            raise NoSuchSession
        await self._end(record, reason, actor, scope)

    async def revoke_others(
        self, user_id: str, token_version: int, keep: str | None, *, actor: Actor, scope: Scope
    ) -> int:
        ended = 0
        for view in await self.listed(user_id, token_version, keep):
            if not view.current:
                await self._end(view.record, "revoked", actor, scope)
                ended += 1
        return ended

    async def ended_by_provider(self, session_ids: list[str], scope: Scope) -> None:
        """The identity provider ended these sessions (its back-channel logout)."""
        for session_id in session_ids:
            record = await self.store.get(session_id)
            if record is not None and record.ended_at is None:
                await self._end(record, "provider_logout", None, scope)

    async def signed_out(self, claims: TokenClaims) -> None:
        """The session's token was revoked by signing out: the session ends with it."""
        await self.store.end([claims.sid], "signout", datetime.fromtimestamp(self._clock(), UTC))

    async def _end(
        self, record: SessionRecord, reason: str, actor: Actor | None, scope: Scope
    ) -> None:
        at = datetime.fromtimestamp(self._clock(), UTC)
        if not await self.store.end([record.id], reason, at):
            return  # ended meanwhile
        expires_at = None if record.expires_at is None else math.ceil(epoch(record.expires_at))
        await self._revocations.revoke(record.id, record.user_id, expires_at)
        self._events.record(
            "session.revoked",
            scope=scope,
            actor=actor,
            target_user_id=record.user_id,
            session_id=record.id,
            reason=reason,
        )
