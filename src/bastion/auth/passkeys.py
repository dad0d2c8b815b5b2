"""Passkeys (WebAuthn level 2, through py_webauthn): registration, and assertions as a
second factor or, with ``ENABLE_PASSKEY_LOGIN``, as the whole sign-in.

- The relying party is ``WEBUI_URL``'s: its host is the RP id and the URL itself the only
  origin accepted, so a page on another site cannot use the user's passkey for us
  (https://www.w3.org/TR/webauthn-2/#sctn-validating-origin).
- Each ceremony's challenge is 32 random bytes kept server-side (the database, shared by
  every instance) by the hash of a one-time token, for five minutes, taken by the first
  answer: a recorded answer cannot be replayed.
- The signature counter must grow. An authenticator that answers with a counter at or
  below the stored one has been cloned (or its answer replayed); it is refused and that
  is a security event (https://www.w3.org/TR/webauthn-2/#sctn-sign-counter).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Scope
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bastion.audit.events import SecurityEvents
from bastion.errors import BastionError, NotFound
from bastion.store.mfa import MfaStore, PasskeyRecord
from bastion.store.users import UserRecord

CHALLENGE_LIFETIME = timedelta(minutes=5)
REGISTER_PURPOSE = "webauthn_register"
SIGNIN_PURPOSE = "webauthn_signin"


class PasskeysUnavailable(BastionError):
    code = "passkeys_unavailable"
    detail = "Passkeys need WEBUI_URL set to this server's address."


class PasskeyRefused(BastionError):
    code = "passkey_invalid"
    detail = "The passkey could not be verified."


def token_key(token: str) -> str:
    """How a one-time token is kept: its SHA-256, so the table holds nothing usable."""
    return hashlib.sha256(token.encode()).hexdigest()


def relying_party(webui_url: str | None) -> tuple[str, str]:
    """The RP id (the host) and the one origin of ``WEBUI_URL``."""
    if webui_url is None:
        raise PasskeysUnavailable
    parts = urlsplit(webui_url)
    if not parts.hostname:
        raise PasskeysUnavailable
    return parts.hostname, f"{parts.scheme}://{parts.netloc}"


def _transports(values: object) -> list[str]:
    known = {item.value for item in AuthenticatorTransport}
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, str) and value in known]


class Passkeys:
    def __init__(
        self,
        *,
        store: MfaStore,
        events: SecurityEvents,
        rp_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._events = events
        self._rp_name = rp_name
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def methods(self, user_id: str) -> list[str]:
        return ["passkey"] if await self._store.passkeys(user_id) else []

    async def list(self, user_id: str) -> list[PasskeyRecord]:
        return await self._store.passkeys(user_id)

    async def _challenge(self, purpose: str, user_id: str | None, challenge: bytes) -> str:
        token = secrets.token_urlsafe(32)
        now = self._now()
        await self._store.add_challenge(
            token_key(token),
            purpose=purpose,
            user_id=user_id,
            token_version=None,
            challenge=bytes_to_base64url(challenge),
            expires_at=now + CHALLENGE_LIFETIME,
            now=now,
        )
        return token

    async def _take(self, purpose: str, token: str) -> tuple[str | None, bytes]:
        taken = await self._store.take_challenge(token_key(token), purpose, self._now())
        if taken is None:
            raise PasskeyRefused("The passkey request has expired or was used: try again.")
        return taken.user_id, base64url_to_bytes(taken.challenge)

    # Registration ----------------------------------------------------------------------

    async def registration_options(self, user: UserRecord, webui_url: str | None) -> dict[str, Any]:
        rp_id, _ = relying_party(webui_url)
        challenge = secrets.token_bytes(32)
        existing = await self._store.passkeys(user.id)
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=self._rp_name,
            user_name=user.email,
            user_id=user.id.encode(),
            user_display_name=user.name,
            challenge=challenge,
            # Discoverable when the authenticator can: then it also signs in without a password.
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                for p in existing
            ],
        )
        token = await self._challenge(REGISTER_PURPOSE, user.id, challenge)
        return {"challenge_token": token, "options": json.loads(options_to_json(options))}

    async def register(
        self,
        user: UserRecord,
        token: str,
        name: str,
        credential: dict[str, Any],
        webui_url: str | None,
        scope: Scope,
    ) -> PasskeyRecord:
        rp_id, origin = relying_party(webui_url)
        owner, challenge = await self._take(REGISTER_PURPOSE, token)
        if owner != user.id:
            raise PasskeyRefused
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise PasskeyRefused from None
        credential_id = bytes_to_base64url(verified.credential_id)
        if await self._store.passkey_by_credential(credential_id) is not None:
            raise PasskeyRefused("This passkey is registered already.")
        response = credential.get("response")
        transports = _transports(response.get("transports") if isinstance(response, dict) else None)
        record = await self._store.add_passkey(
            user.id,
            credential_id=credential_id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            name=name,
            transports=transports,
            now=self._now(),
        )
        self._events.record(
            "passkey.added", scope=scope, user_id=user.id, passkey_id=record.id, name=name
        )
        return record

    async def remove(self, user: UserRecord, passkey_id: str, scope: Scope) -> None:
        removed = await self._store.remove_passkey(user.id, passkey_id)
        if removed is None:
            raise NotFound("No such passkey.")
        self._events.record(
            "passkey.removed",
            scope=scope,
            user_id=user.id,
            passkey_id=removed.id,
            name=removed.name,
        )

    # Assertions ------------------------------------------------------------------------

    async def authentication_options(
        self, user_id: str | None, webui_url: str | None
    ) -> dict[str, Any]:
        """Options for the account's passkeys, or (``user_id`` None) any discoverable one."""
        rp_id, _ = relying_party(webui_url)
        challenge = secrets.token_bytes(32)
        allowed = []
        if user_id is not None:
            allowed = [
                PublicKeyCredentialDescriptor(
                    id=base64url_to_bytes(p.credential_id),
                    transports=[AuthenticatorTransport(t) for t in p.transports] or None,
                )
                for p in await self._store.passkeys(user_id)
            ]
        options = generate_authentication_options(
            rp_id=rp_id,
            challenge=challenge,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.PREFERRED
            if user_id is not None
            else UserVerificationRequirement.REQUIRED,
        )
        token = await self._challenge(SIGNIN_PURPOSE, user_id, challenge)
        return {"challenge_token": token, "options": json.loads(options_to_json(options))}

    async def passkey_of(self, credential: dict[str, Any]) -> PasskeyRecord | None:
        """The stored passkey an assertion names, if any."""
        raw_id = credential.get("rawId", credential.get("id"))
        if not isinstance(raw_id, str) or len(raw_id) > 1400:
            return None
        return await self._store.passkey_by_credential(raw_id)

    async def verify(
        self,
        token: str,
        credential: dict[str, Any],
        user: UserRecord,
        webui_url: str | None,
        scope: Scope,
    ) -> bool:
        """Whether ``credential`` is a fresh assertion of one of ``user``'s passkeys."""
        rp_id, origin = relying_party(webui_url)
        bound, challenge = await self._take(SIGNIN_PURPOSE, token)
        passkey = await self.passkey_of(credential)
        if passkey is None or passkey.user_id != user.id or bound not in (None, user.id):
            return False
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                # The counter is compared below, after the signature, to tell a clone apart.
                credential_current_sign_count=0,
                require_user_verification=bound is None,  # alone, the passkey is both factors
            )
        except (WebAuthnException, ValueError, KeyError, TypeError):
            return False
        new_count = verified.new_sign_count
        stale = (new_count > 0 or passkey.sign_count > 0) and new_count <= passkey.sign_count
        if stale or not await self._store.use_passkey(
            passkey.id, passkey.sign_count, new_count, self._now()
        ):
            # A valid signature with an old counter: a copy of the authenticator exists.
            self._events.record(
                "passkey.counter_stale",
                outcome="denied",
                scope=scope,
                user_id=user.id,
                passkey_id=passkey.id,
                stored_count=passkey.sign_count,
                presented_count=new_count,
            )
            return False
        return True
