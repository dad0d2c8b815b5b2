"""Sign-in by a header an authenticating proxy sets (``WEBUI_AUTH_TRUSTED_EMAIL_HEADER``).

Anyone can send any header: one naming the account is believed only when the connection
comes straight from a proxy listed in ``FORWARDED_ALLOW_IPS`` (which must strip it from
what clients send). From any other peer it is ignored, and the attempt is a security
event: it is someone trying to sign in as another without a password.
"""

from __future__ import annotations

from starlette.types import Scope

from bastion.audit.events import SecurityEvents
from bastion.auth.oidc.signin import NO_PASSWORD
from bastion.auth.roles import Role
from bastion.config.oauth import OAuthSettings
from bastion.http.proxy import TRUSTED_PEER
from bastion.store.groups import GroupStore
from bastion.store.users import UserRecord, Users


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope["headers"]:
        if key == wanted:
            return value.decode("latin-1").strip() or None
    return None


async def trusted_header_user(
    scope: Scope,
    settings: OAuthSettings,
    *,
    users: Users,
    groups: GroupStore,
    events: SecurityEvents,
    default_role: Role,
) -> UserRecord | None:
    """The account the trusted proxy names, made on first sight; None: no such header."""
    header = settings.webui_auth_trusted_email_header
    if header is None:
        return None
    email = _header(scope, header)
    if email is None:
        return None
    if not scope.get(TRUSTED_PEER, False):
        events.record("trusted_header.refused", outcome="denied", scope=scope, header=header)
        return None
    email = email.lower()
    user = await users.by_email(email)
    if user is None:
        name_header = settings.webui_auth_trusted_name_header
        name = (_header(scope, name_header) if name_header else None) or email.split("@")[0]
        user = await users.create(
            email=email,
            name=name[:200],
            password_hash=NO_PASSWORD,
            role=default_role,
            first_is_admin=True,
        )
        events.record("auth.signup", scope=scope, user_id=user.id, role=user.role, via="header")
    groups_header = settings.webui_auth_trusted_groups_header
    listed = _header(scope, groups_header) if groups_header else None
    if listed is not None:
        wanted = {name.strip() for name in listed.split(",") if name.strip()}
        held = await groups.groups_of(user.id)
        for group in await groups.all():
            if group.name in wanted and group.id not in held:
                await groups.add_members(group.id, [user.id])
            elif group.name not in wanted and group.id in held:
                await groups.remove_members(group.id, [user.id])
    return user
