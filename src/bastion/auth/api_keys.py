"""``sk-`` API keys for programs.

A key is ``sk-`` and 192 random bits, shown once. Only its SHA-256 is stored: the key
is random, so a fast hash suffices (there is nothing to guess) and a stolen database
holds no usable key. Path scopes are matched on the raw path, segment by segment, so
``/api/models`` allows ``/api/models/x`` but not ``/api/modelsx`` nor an encoded
``/api/models/..%2F..`` detour.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from bastion.errors import BastionError, NotFound
from bastion.store.api_keys import ApiKeyRecord, ApiKeyStore
from bastion.store.db import Database

PREFIX = "sk-"
_KEY_BYTES = 24
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = 60.0
# Segments that could make a raw path mean another path once decoded or normalised.
_SUSPICIOUS = ("%2f", "%5c", "%2e", "\\", "%00", "%25")


class ApiKeyRefused(BastionError):
    status_code = 401
    code = "api_key_invalid"
    detail = "The API key is invalid, expired or revoked."


class ApiKeyOutOfScope(BastionError):
    status_code = 403
    code = "api_key_out_of_scope"
    detail = "This API key may not be used on this endpoint."


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(PREFIX)


def normalise_scope(prefix: str) -> str:
    """A path prefix as stored: absolute, no trailing slash, no query."""
    if not prefix.startswith("/") or "?" in prefix or "#" in prefix:
        raise ValueError(f"{prefix!r} is not an absolute path")
    return prefix.rstrip("/") or "/"


def path_allowed(raw_path: str, prefixes: Iterable[str]) -> bool:
    """Whether ``raw_path`` (undecoded) is one of ``prefixes`` or below one, segment-wise."""
    lowered = raw_path.lower()
    if any(marker in lowered for marker in _SUSPICIOUS):
        return False
    segments = raw_path.split("/")
    if any(segment in {".", ".."} for segment in segments):
        return False
    for prefix in prefixes:
        if prefix == "/":
            return True
        wanted = prefix.split("/")
        if segments[: len(wanted)] == wanted:
            return True
    return False


class ApiKeys:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._store = ApiKeyStore(db)
        self._clock = clock
        self._last_written: dict[str, float] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def create(
        self,
        user_id: str,
        *,
        name: str,
        expires_in: timedelta | None,
        scopes: Sequence[str] = (),
    ) -> tuple[ApiKeyRecord, str]:
        """A new key and its plaintext, which is not kept anywhere."""
        key = PREFIX + secrets.token_hex(_KEY_BYTES)
        now = self._now()
        record = ApiKeyRecord(
            id=str(uuid.uuid4()),
            user_id=user_id,
            name=name,
            prefix=key[:10],
            scopes=tuple(normalise_scope(scope) for scope in scopes),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            last_used_at=None,
            revoked_at=None,
        )
        await self._store.add(record, key_hash=hash_key(key))
        return record, key

    async def list(self, user_id: str) -> list[ApiKeyRecord]:
        return await self._store.unrevoked(user_id)

    async def revoke(self, user_id: str, key_id: str) -> None:
        if not await self._store.revoke(user_id, key_id, self._now()):
            raise NotFound("No such API key.")

    async def authenticate(self, key: str) -> ApiKeyRecord:
        """The live key behind ``key``; :class:`ApiKeyRefused` for anything else."""
        if len(key) > 200:
            raise ApiKeyRefused
        record = await self._store.by_hash(hash_key(key))
        now = self._now()
        if record is None or record.revoked_at is not None:
            raise ApiKeyRefused
        if record.expires_at is not None and record.expires_at <= now:
            raise ApiKeyRefused
        await self._touch(record.id, now)
        return record

    async def _touch(self, key_id: str, now: datetime) -> None:
        moment = now.timestamp()
        if moment - self._last_written.get(key_id, 0.0) < LAST_USED_RESOLUTION:
            return
        self._last_written[key_id] = moment
        await self._store.touch(key_id, now)
