"""Single sign-on policy: the flow's one-time values, which account a provider identity
is, what its claims allow at each login, what a sign-out or a back-channel logout ends.

Every refusal is a security event ``oauth.refused`` with the failed check as ``reason``
and changes no account: the claims are judged before anything is written.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.types import Scope

from bastion.audit.events import SecurityEvents
from bastion.auth.oidc.provider import OidcRefused, Provider, TokenSet
from bastion.auth.revocation import Revocations
from bastion.auth.roles import Role
from bastion.auth.sealing import Sealer, Unsealable
from bastion.auth.sessions import Sessions
from bastion.auth.tokens import TokenClaims
from bastion.config.oauth import OAuthSettings
from bastion.store.groups import GroupStore
from bastion.store.oidc import Flow, Login, OidcStore
from bastion.store.users import EmailTaken, LastAdmin, UserRecord, Users

# A sign-in not back from the provider within this time is void.
FLOW_LIFETIME = timedelta(minutes=10)
# What an account made by single sign-on has for a password: no password opens it.
NO_PASSWORD = "!sso"  # noqa: S105 (a marker no hash ever equals)
# A provider access token is refreshed this long before it expires.
REFRESH_MARGIN_S = 60


@dataclass(frozen=True, slots=True)
class Started:
    url: str  # the provider's authorization endpoint, with the flow's parameters
    state: str


@dataclass(frozen=True, slots=True)
class Identified:
    user: UserRecord
    claims: dict[str, Any]
    tokens: TokenSet


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcSignIn:
    def __init__(
        self,
        settings: OAuthSettings,
        provider: Provider,
        *,
        store: OidcStore,
        users: Users,
        groups: GroupStore,
        revocations: Revocations,
        sessions: Sessions,
        events: SecurityEvents,
        seal: Sealer,
        default_role: Callable[[], Role],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.provider = provider
        self._store = store
        self._users = users
        self._groups = groups
        self._revocations = revocations
        self._sessions = sessions
        self._events = events
        self.seal = seal
        self._default_role = default_role
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- the flow -----------------------------------------------------------------------

    async def start(self) -> Started:
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43..128
        url = await self.provider.authorization_url(state, nonce, _s256(verifier))
        now = self._now()
        await self._store.prune_flows(now - FLOW_LIFETIME)
        await self._store.add_flow(Flow(state, nonce, verifier, now))
        return Started(url=url, state=state)

    async def discard(self, state: str) -> None:
        await self._store.take_flow(state)

    async def finish(self, state: str, code: str, scope: Scope) -> Identified:
        """The account the provider vouches for, its role and groups as its claims say."""
        try:
            return await self._finish(state, code, scope)
        except OidcRefused as refused:
            self._events.record(
                "oauth.refused", outcome="denied", scope=scope, reason=refused.reason
            )
            raise

    async def _finish(self, state: str, code: str, scope: Scope) -> Identified:
        # Taken (deleted) first: a state is good for one try, even a failed one.
        flow = await self._store.take_flow(state) if state else None
        if flow is None:
            raise OidcRefused("unknown_state")
        if _aware(flow.created_at) < self._now() - FLOW_LIFETIME:
            raise OidcRefused("state_expired")
        if not code:
            raise OidcRefused("no_code")
        tokens = await self.provider.exchange(code, flow.code_verifier)
        claims = await self.provider.validate_id_token(tokens.id_token, flow.nonce)
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        try:
            role = self._role_from(claims)
        except OidcRefused:
            # An account the provider no longer lets in loses the sessions it has too.
            user_id = await self._store.user_of(issuer, subject)
            if user_id is not None:
                await self._users.revoke_all_tokens(user_id)
            raise
        user = await self._account(issuer, subject, claims, role, scope)
        return Identified(user=user, claims=claims, tokens=tokens)

    def _role_from(self, claims: dict[str, Any]) -> Role | None:
        """The role the claims give (None: role management is off); refused if none."""
        if not self.settings.enable_oauth_role_management:
            return None
        held = set(_claim_values(claims, self.settings.oauth_roles_claim))
        if held & set(self.settings.oauth_admin_roles):
            return "admin"
        if held & set(self.settings.oauth_allowed_roles):
            return "user"
        raise OidcRefused("role_not_allowed")

    async def _account(
        self, issuer: str, subject: str, claims: dict[str, Any], role: Role | None, scope: Scope
    ) -> UserRecord:
        user_id = await self._store.user_of(issuer, subject)
        if user_id is not None:
            user = await self._users.get(user_id)
            if user is None:
                raise OidcRefused("account_gone")
            return await self._apply_claims(user, claims, role, scope)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 320:
            raise OidcRefused("no_email")
        email = email.strip().lower()
        existing = await self._users.by_email(email)
        if existing is not None:
            # A provider that lets anyone claim any address must not open its account:
            # only a verified address links, and only when the admin allowed merging.
            if not self.settings.oauth_merge_accounts_by_email:
                raise OidcRefused("email_in_use")
            if claims.get("email_verified") is not True:
                raise OidcRefused("email_not_verified")
            await self._store.link(issuer, subject, existing.id, self._now())
            self._events.record(
                "oauth.linked", scope=scope, user_id=existing.id, issuer=issuer, subject=subject
            )
            return await self._apply_claims(existing, claims, role, scope)
        if not self.settings.enable_oauth_signup:
            raise OidcRefused("signup_disabled")
        name = claims.get("name") or claims.get("preferred_username") or email.split("@")[0]
        try:
            user = await self._users.create(
                email=email,
                name=str(name)[:200],
                password_hash=NO_PASSWORD,
                role=role or self._default_role(),
                first_is_admin=role is None,
            )
        except EmailTaken:
            raise OidcRefused("email_in_use") from None
        await self._store.link(issuer, subject, user.id, self._now())
        self._events.record(
            "oauth.signup", scope=scope, user_id=user.id, role=user.role, issuer=issuer
        )
        return await self._apply_claims(user, claims, None, scope)

    async def _apply_claims(
        self, user: UserRecord, claims: dict[str, Any], role: Role | None, scope: Scope
    ) -> UserRecord:
        if not user.is_active:
            raise OidcRefused("account_disabled")
        if role is not None and role != user.role:
            try:
                await self._users.set_role(user.id, role)
            except LastAdmin:
                pass  # the primary admin keeps the role; the provider cannot take it away
        if self.settings.enable_oauth_group_management:
            await self._apply_groups(
                user.id, _claim_values(claims, self.settings.oauth_group_claim)
            )
        refreshed = await self._users.get(user.id)
        if refreshed is None:
            raise OidcRefused("account_gone")
        return refreshed

    async def _apply_groups(self, user_id: str, names: Sequence[str]) -> None:
        """Membership of the existing groups as the claims list them (by name)."""
        wanted = set(names)
        held = await self._groups.groups_of(user_id)
        for group in await self._groups.all():
            if group.name in wanted and group.id not in held:
                await self._groups.add_members(group.id, [user_id])
            elif group.name not in wanted and group.id in held:
                await self._groups.remove_members(group.id, [user_id])

    # --- what happens after ---------------------------------------------------------------

    async def record_login(self, identified: Identified, token: TokenClaims) -> None:
        sid = identified.claims.get("sid")
        await self._store.add_login(
            Login(
                jti=token.jti,
                user_id=identified.user.id,
                issuer=str(identified.claims["iss"]),
                subject=str(identified.claims["sub"]),
                sid=sid if isinstance(sid, str) else None,
                session_id=token.sid,
                expires_at=None
                if token.expires_at is None
                else datetime.fromtimestamp(token.expires_at, UTC),
                tokens=self.seal.seal(identified.tokens.dump().encode()),
            ),
            self._now(),
        )

    async def login_of(self, jti: str) -> tuple[Login, TokenSet] | None:
        login = await self._store.login(jti)
        if login is None:
            return None
        try:
            return login, TokenSet.load(self.seal.unseal(login.tokens).decode())
        except (Unsealable, UnicodeDecodeError):
            return None

    async def access_token(self, jti: str) -> str | None:
        """The provider access token of a sign-in, refreshed server-side when it is due."""
        found = await self.login_of(jti)
        if found is None:
            return None
        _, tokens = found
        due = (
            tokens.expires_at is not None and tokens.expires_at - REFRESH_MARGIN_S <= self._clock()
        )
        if not due:
            return tokens.access_token
        if tokens.refresh_token is None:
            return None
        refreshed = await self.provider.refresh(tokens.refresh_token, tokens.id_token)
        await self._store.set_tokens(jti, self.seal.seal(refreshed.dump().encode()))
        return refreshed.access_token

    async def forget(self, jti: str) -> None:
        await self._store.forget_login(jti)

    async def backchannel_logout(self, logout_token: str, scope: Scope) -> int:
        """End what a validated logout token names: the sign-ins' tokens and their session
        records on every instance; how many sign-ins ended."""
        try:
            claims = await self.provider.validate_logout_token(logout_token)
            issuer = str(claims["iss"])
            if not await self._store.first_sight_of_logout(issuer, str(claims["jti"]), self._now()):
                raise OidcRefused("logout_token_replayed")
        except OidcRefused as refused:
            self._events.record(
                "oauth.refused", outcome="denied", scope=scope, reason=refused.reason, logout=True
            )
            raise
        sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        subject = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        logins = await self._store.logins(issuer, sid=sid, subject=subject)
        for login in logins:
            expires = (
                None if login.expires_at is None else int(_aware(login.expires_at).timestamp())
            )
            await self._revocations.revoke(login.jti, login.user_id, expires)
        await self._sessions.ended_by_provider(
            [login.session_id for login in logins if login.session_id is not None], scope
        )
        user_id = None
        if sid is None and subject is not None:
            # Every session of the account at the provider ends: every token of it here too.
            user_id = await self._store.user_of(issuer, subject)
            if user_id is not None:
                await self._users.revoke_all_tokens(user_id)
        self._events.record(
            "oauth.backchannel_logout",
            scope=scope,
            user_id=user_id or (logins[0].user_id if logins else None),
            issuer=issuer,
            sid=sid,
            revoked=len(logins),
            all_tokens=user_id is not None,
        )
        return len(logins)


def _claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """A claim's values by dotted path (``realm_access.roles``), as a list of strings."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return []
        value = value.get(part)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
