"""Second factors: TOTP with recovery codes, the second step of a sign-in, the policy.

- A TOTP secret is sealed at rest (``auth/sealing.py``) and turned on only once a code
  made from it has been given back: an account is never locked behind a secret its
  owner failed to save.
- Each accepted code's time step is stored, and only a later step is accepted after it:
  a code seen over a shoulder or in a log is worth nothing once used.
- After the right password, an account with a factor gets an ``mfa_token``: 256 random
  bits, kept server-side by its hash (the database, shared by every instance), for one
  account at its token version, for five minutes, spent by the first success. It is not
  a JWT, so no route takes it as a session.
- Codes meet the sign-in's rate limits, delays and lockout (``SignIn.second_factor``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.types import Scope

from bastion.audit.events import SecurityEvents
from bastion.auth import totp
from bastion.auth.passkeys import Passkeys, token_key
from bastion.auth.sealing import Sealer, Unsealable, derive_key
from bastion.auth.signin import InvalidSecondFactor, SignIn
from bastion.config.mfa import MfaSettings
from bastion.errors import BastionError, Conflict, Forbidden, NotAuthenticated
from bastion.ratelimit.strategies import Decision
from bastion.store.mfa import MfaStore
from bastion.store.users import UserRecord, Users

MFA_TOKEN_LIFETIME = timedelta(minutes=5)
# Wrong codes one mfa_token may carry before the password must be given again.
MFA_TOKEN_ATTEMPTS = 5
RECOVERY_CODES = 10
SIGNIN_PURPOSE = "signin"


class MfaTokenInvalid(NotAuthenticated):
    code = "mfa_token_invalid"
    detail = "The sign-in step has expired or was used: sign in again."


class MfaEnrolmentRequired(Forbidden):
    code = "mfa_enrolment_required"
    detail = "Set up a second factor on the security page first."


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"
    detail = "Two-step sign-in with an authenticator app is already on."


class MfaNotEnabled(BastionError):
    code = "mfa_not_enabled"
    detail = "Two-step sign-in with an authenticator app is not on."


class MfaSetupMissing(BastionError):
    code = "mfa_setup_missing"
    detail = "Start the setup first."


def new_recovery_code() -> str:
    """64 random bits as four groups of four hex digits, e.g. ``3f9a-0c41-77be-d203``."""
    raw = secrets.token_hex(8)
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normalise_code(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


class RecoveryCodeHasher:
    """HMAC-SHA256 of a recovery code, under keys derived from the sealing keys.

    A fast keyed hash is enough here, unlike for passwords: a code is 64 random bits,
    not something a person chose, so there is no dictionary to try, and without the key
    a stolen table cannot even be attacked offline. A slow hash would only cost every
    sign-in. Each key of the rotation list is tried, so rotation keeps the codes valid.
    """

    def __init__(self, secrets_: Sequence[str]) -> None:
        self._keys = [derive_key(secret, "mfa recovery codes") for secret in secrets_]

    def digest(self, code: str) -> str:
        return self.candidates(code)[0]

    def candidates(self, code: str) -> list[str]:
        plain = _normalise_code(code).encode()
        return [hmac.new(key, plain, hashlib.sha256).hexdigest() for key in self._keys]


class Mfa:
    def __init__(
        self,
        *,
        store: MfaStore,
        users: Users,
        signin: SignIn,
        events: SecurityEvents,
        settings: MfaSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._users = users
        self._signin = signin
        self._events = events
        self.settings = settings
        self._sealer = Sealer(settings.encryption_keys, "mfa totp secret")
        self._recovery = RecoveryCodeHasher(settings.encryption_keys)
        self._clock = clock
        # Whether an account has a factor, by (account, token version): every change of
        # factors bumps the version, so an entry is never stale.
        self._enrolled: dict[tuple[str, int], bool] = {}
        self.passkeys = Passkeys(
            store=store, events=events, rp_name=settings.webui_name, clock=clock
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # What an account has -------------------------------------------------------------

    async def methods(self, user_id: str) -> list[str]:
        """The second factors the account can use, in the order the sign-in page offers."""
        found: list[str] = []
        record = await self.store.totp(user_id)
        if record is not None and record.confirmed:
            found += ["totp", "recovery"]
        found += await self.passkeys.methods(user_id)
        return found

    async def has_factor(self, user: UserRecord) -> bool:
        key = (user.id, user.token_version)
        known = self._enrolled.get(key)
        if known is None:
            known = bool(await self.methods(user.id))
            if len(self._enrolled) >= 10_000:
                self._enrolled.clear()
            self._enrolled[key] = known
        return known

    def policy_applies(self, user: UserRecord) -> bool:
        required = self.settings.require_mfa
        return required == "all" or (required == "admin" and user.role == "admin")

    async def must_enrol(self, user: UserRecord) -> bool:
        return self.policy_applies(user) and not await self.has_factor(user)

    async def enforce(self, user: UserRecord) -> None:
        """Refuse (403 ``mfa_enrolment_required``) an account the policy holds to a factor."""
        if await self.must_enrol(user):
            raise MfaEnrolmentRequired

    async def status(self, user: UserRecord) -> dict[str, Any]:
        methods = await self.methods(user.id)
        return {
            "totp": "totp" in methods,
            "recovery_codes_left": await self.store.recovery_codes_left(user.id),
            "passkey": "passkey" in methods,
            "required": self.policy_applies(user),
            "passkey_login": self.settings.enable_passkey_login,
        }

    # TOTP enrolment --------------------------------------------------------------------

    async def setup(self, user: UserRecord) -> dict[str, str]:
        """A new secret for the account, not in force until confirmed."""
        secret = totp.new_secret()
        if not await self.store.start_totp(
            user.id, self._sealer.seal(secret.encode()), self._now()
        ):
            raise MfaAlreadyEnabled
        uri = totp.provisioning_uri(secret, user.email, self.settings.webui_name)
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": totp.qr_svg(uri)}

    async def confirm(self, user: UserRecord, code: str, scope: Scope) -> list[str]:
        """Turn TOTP on if ``code`` comes from the pending secret; the recovery codes."""
        record = await self.store.totp(user.id)
        if record is None:
            raise MfaSetupMissing
        if record.confirmed:
            raise MfaAlreadyEnabled
        step = totp.matching_step(self._secret(record.secret), code, self._clock())
        if step is None or not await self.store.use_step(user.id, step, confirm_at=self._now()):
            raise InvalidSecondFactor
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        await self.store.set_recovery_codes(user.id, [self._recovery.digest(c) for c in codes])
        await self._users.revoke_all_tokens(user.id)
        self._events.record("mfa.enabled", scope=scope, user_id=user.id, method="totp")
        return codes

    async def check_totp(self, user_id: str, code: str) -> bool:
        """Whether ``code`` is the account's current code, never used before (then it is)."""
        record = await self.store.totp(user_id)
        if record is None or not record.confirmed:
            return False
        step = totp.matching_step(self._secret(record.secret), code, self._clock())
        if step is None or not await self.store.use_step(user_id, step, confirm_at=None):
            return False
        if not self._sealer.is_current(record.secret):
            # Sealed under a former key: sealed again under the newest now it is in use.
            await self.store.reseal(user_id, record.secret, self._sealer.rotate(record.secret))
        return True

    async def disable(self, user: UserRecord, code: str, scope: Scope) -> None:
        """Turn TOTP off (the password is the router's to check first)."""
        record = await self.store.totp(user.id)
        if record is None or not record.confirmed:
            raise MfaNotEnabled
        if not await self.check_totp(user.id, code):
            self._events.record(
                "mfa.failed", outcome="failure", scope=scope, user_id=user.id, method="totp"
            )
            raise InvalidSecondFactor
        await self.store.remove_totp(user.id)
        await self._users.revoke_all_tokens(user.id)
        self._events.record("mfa.disabled", scope=scope, user_id=user.id, method="totp")

    async def reset(self, user: UserRecord) -> None:
        """Every factor of the account removed and every token of it revoked (an admin's)."""
        await self.store.remove_all(user.id)
        await self._users.revoke_all_tokens(user.id)

    def _secret(self, sealed: str) -> str:
        try:
            return self._sealer.unseal(sealed).decode("ascii")
        except Unsealable:
            # No configured key opens it: the keys were replaced without the old as fallback.
            raise BastionError(
                "The second factor cannot be read with the configured keys.",
                code="mfa_key_missing",
                status_code=503,
            ) from None

    # The second step of a sign-in ------------------------------------------------------

    async def challenge(self, user: UserRecord) -> dict[str, Any]:
        """The answer to a right password when a second factor must follow."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        await self.store.add_challenge(
            token_key(token),
            purpose=SIGNIN_PURPOSE,
            user_id=user.id,
            token_version=user.token_version,
            challenge="",
            expires_at=now + MFA_TOKEN_LIFETIME,
            now=now,
        )
        return {"mfa_required": True, "mfa_token": token, "methods": await self.methods(user.id)}

    async def pending_user(self, mfa_token: str) -> UserRecord:
        """The account an mfa_token stands for, counting one attempt on it."""
        challenge = await self.store.attempt_challenge(
            token_key(mfa_token), SIGNIN_PURPOSE, self._now(), max_attempts=MFA_TOKEN_ATTEMPTS
        )
        if challenge is None or challenge.user_id is None:
            raise MfaTokenInvalid
        known = await self._users.get(challenge.user_id)
        # Read again from the database: the lockout's counts are not cached.
        user = None if known is None else await self._users.by_email(known.email)
        if user is None or not user.is_active or user.token_version != challenge.token_version:
            raise MfaTokenInvalid  # disabled, or every token revoked since the password
        return user

    async def spend(self, mfa_token: str) -> None:
        """Use the mfa_token up; only one request ever succeeds with it."""
        if (
            await self.store.take_challenge(token_key(mfa_token), SIGNIN_PURPOSE, self._now())
            is None
        ):
            raise MfaTokenInvalid

    async def finish(
        self, mfa_token: str, code: str, ip: str, scope: Scope
    ) -> tuple[UserRecord, str, Decision]:
        """The account, the method and the limits' standing, if ``code`` is its second factor."""
        user = await self.pending_user(mfa_token)
        method = "recovery" if "-" in code or len(_normalise_code(code)) == 16 else "totp"

        async def check() -> bool:
            if method == "totp":
                return await self.check_totp(user.id, code)
            return await self._use_recovery_code(user.id, code)

        decision = await self._signin.second_factor(user, ip, scope, check, method)
        await self.spend(mfa_token)
        if method == "recovery":
            self._events.record(
                "mfa.recovery_used",
                scope=scope,
                user_id=user.id,
                left=await self.store.recovery_codes_left(user.id),
            )
        return user, method, decision

    async def _use_recovery_code(self, user_id: str, code: str) -> bool:
        now = self._now()
        for candidate in self._recovery.candidates(code):
            if await self.store.use_recovery_code(user_id, candidate, now):
                return True
        return False
