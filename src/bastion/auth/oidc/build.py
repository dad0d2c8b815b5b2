"""The single sign-on service, built from the settings (``None`` when it is off)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bastion.auth.oidc.provider import Provider
from bastion.auth.oidc.signin import OidcSignIn
from bastion.auth.sealing import Sealer
from bastion.store.oidc import OidcStore

if TYPE_CHECKING:
    from bastion.audit.events import SecurityEvents
    from bastion.auth.revocation import Revocations
    from bastion.auth.sessions import Sessions
    from bastion.config import Settings
    from bastion.runtime import RuntimeSettings
    from bastion.store.db import Database
    from bastion.store.groups import GroupStore
    from bastion.store.users import Users


def seal_keys(settings: Settings) -> tuple[str, ...]:
    """OAUTH_SESSION_TOKEN_ENCRYPTION_KEY's keys, else the secret key and its fallbacks."""
    keys = settings.oauth.oauth_session_token_encryption_key
    return keys or (settings.auth.secret_key, *settings.auth.secret_key_fallbacks)


def build_oidc(
    settings: Settings,
    runtime: RuntimeSettings,
    db: Database,
    users: Users,
    groups: GroupStore,
    revocations: Revocations,
    sessions: Sessions,
    events: SecurityEvents,
    clock: Callable[[], float],
) -> OidcSignIn | None:
    if not settings.oauth.oidc_enabled:
        return None
    return OidcSignIn(
        settings.oauth,
        Provider(settings.oauth, clock=clock),
        store=OidcStore(db),
        users=users,
        groups=groups,
        revocations=revocations,
        sessions=sessions,
        events=events,
        seal=Sealer(seal_keys(settings), "oauth session tokens"),
        default_role=lambda: runtime.settings.auth.default_user_role,
        clock=clock,
    )
