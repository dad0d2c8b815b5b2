"""The tables. Migrations in ``store/migrations`` are the only way they change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped to revoke every token of the account at once: tokens carry the version
    # they were issued under and any older one is refused.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    # Consecutive failed sign-ins (any address); at the threshold the account is locked.
    failed_signins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A data: URL of a checked raster image, or "" (never a URL the browser would fetch).
    profile_image_url: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The first account, if an admin: no other admin may demote, disable or delete it.
    is_primary: Mapped[bool] = mapped_column(default=False, server_default=false())
    # What the UI keeps per account (open-webui's "settings" and "info"); size-capped.
    settings: Mapped[dict[str, object] | None] = mapped_column(JSON)
    info: Mapped[dict[str, object] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class RevokedToken(Base):
    """One signed-out token, kept until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    """One sign-in: where and how it happened, when it was last used, whether it ended."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The account's token version at sign-in: a later one (password, role) ends it.
    token_version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(40))
    browser: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_active_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When its token expires (None: never); a revocation of the session is kept until then.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))


class SigninFailure(Base):
    """Consecutive failed sign-ins for one e-mail from one address.

    Drives the progressive delay, and caps what one address can add to the account's
    count, so that one attacker cannot lock the real user out. Keyed by the e-mail as
    typed (normalised), not by the account, so that an e-mail without an account is
    delayed exactly like one with: the answers never tell which accounts exist.
    """

    __tablename__ = "signin_failures"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(45), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An ``sk-`` key: only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- Model gateway: chats, model access, groups ---------------------------------------


class Chat(Base):
    """One conversation; ``share_id`` is set while a read-only share link exists."""

    __tablename__ = "chats"
    __table_args__ = (Index("ix_chats_user_id_updated_at", "user_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    chat: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    share_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The title and every message's text, case-folded: what a search looks in.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An archived chat leaves the list, the search and the pinned chats.
    archived: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The owner's folder; kept right by ``store/folders.py``, which moves or deletes a
    # folder's chats in the transaction that deletes it.
    folder_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Folder(Base):
    """A user's folder of chats (open-webui's); folders nest through ``parent_id``."""

    __tablename__ = "folders"
    __table_args__ = (Index("ix_folders_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    is_expanded: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChatTag(Base):
    """One tag on one chat. A user's tags are the ones on their chats: none is left over."""

    __tablename__ = "chat_tags"
    __table_args__ = (Index("ix_chat_tags_user_id_tag_id", "user_id", "tag_id"),)

    chat_id: Mapped[str] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ModelAccess(Base):
    """Who may use one model: listed users and members of listed groups (admins always)."""

    __tablename__ = "model_access"

    model_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)


class RuntimeSetting(Base):
    """A variable changed by an administrator at run time, over the environment's."""

    __tablename__ = "runtime_settings"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RuntimeSettingsVersion(Base):
    """One row: bumped by every change, so each process sees that it must read again."""

    __tablename__ = "runtime_settings_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ChatGrant(Base):
    """One account or group that may read a chat (besides its owner); never write."""

    __tablename__ = "chat_grants"
    __table_args__ = (Index("ix_chat_grants_principal", "principal_type", "principal_id"),)

    chat_id: Mapped[str] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    principal_type: Mapped[str] = mapped_column(String(8), primary_key=True)  # user, group
    principal_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Group(Base):
    """A group of accounts: named in model access lists, granting permissions to members.

    Groups from before this table (named only by their members and access lists) kept
    their name as their id.
    """

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # open-webui's nested shape: {"features": {"api_keys": true}, "chat": {...}}
    permissions: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GroupMember(Base):
    __tablename__ = "group_members"

    group_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# --- end model gateway ------------------------------------------------------------------


# --- Files ------------------------------------------------------------------------------


class StoredFile(Base):
    """An upload. On disk it is named by ``id`` alone: the user's name is only data."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The uploader's own metadata (open-webui's form field), a small JSON object.
    meta: Mapped[dict[str, object] | None] = mapped_column(JSON)


# --- end files --------------------------------------------------------------------------


# --- Second factors ---------------------------------------------------------------------


class MfaTotp(Base):
    """An account's TOTP secret, sealed (``auth/sealing.py``); on once ``confirmed_at``."""

    __tablename__ = "mfa_totp"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The time step of the last code accepted: a code is never accepted twice.
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MfaRecoveryCode(Base):
    """One recovery code, by its keyed hash; ``used_at`` once it has been spent."""

    __tablename__ = "mfa_recovery_codes"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MfaChallenge(Base):
    """A pending step (the second step of a sign-in, a passkey challenge), used once.

    Kept by the SHA-256 of its token, so the table never holds one that could be used.
    """

    __tablename__ = "mfa_challenges"
    __table_args__ = (Index("ix_mfa_challenges_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_version: Mapped[int | None] = mapped_column(Integer)
    challenge: Mapped[str] = mapped_column(Text, default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebauthnCredential(Base):
    """A passkey: its public key, the signature counter it last showed, its name."""

    __tablename__ = "webauthn_credentials"
    __table_args__ = (Index("ix_webauthn_credentials_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[str] = mapped_column(Text)  # base64url COSE key
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100))
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- end second factors -----------------------------------------------------------------


class OidcIdentity(Base):
    """An account of the identity provider (issuer + subject) and the Bastion account it is."""

    __tablename__ = "oidc_identities"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OidcFlow(Base):
    """A sign-in sent to the provider and not yet back: its state, nonce and PKCE verifier.

    Deleted when the provider sends the browser back, so each is used at most once.
    """

    __tablename__ = "oidc_flows"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class OidcLogin(Base):
    """One Bastion token issued through the provider: what back-channel logout revokes.

    ``sid`` is the provider's session, ``session_id`` Bastion's (None for sign-ins made
    before sessions were recorded with it). ``tokens`` is the provider's access, refresh
    and ID tokens, sealed (never in clear).
    """

    __tablename__ = "oidc_logins"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    sid: Mapped[str | None] = mapped_column(String(255), index=True)
    session_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tokens: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OidcSeenLogout(Base):
    """A back-channel logout token already acted on (issuer + jti): a replay is refused."""

    __tablename__ = "oidc_seen_logouts"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
