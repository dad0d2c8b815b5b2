"""The long-lived parts of a running Bastion, built once from the settings."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from bastion.audit.alerts import AlertRules, rules_from
from bastion.audit.events import EventSink, LoggingSink, Outcome, SecurityEvents
from bastion.audit.logfile import LogFile
from bastion.audit.syslog import SyslogSink
from bastion.audit.webhook import WebhookSink
from bastion.audit.writer import AuditSink, AuditWriter
from bastion.auth.api_keys import ApiKeys
from bastion.auth.authenticate import Authenticator
from bastion.auth.lockout import Lockouts
from bastion.auth.mfa import Mfa
from bastion.auth.oidc.build import build_oidc
from bastion.auth.oidc.signin import OidcSignIn
from bastion.auth.passwords import PasswordHasher, PasswordPolicy
from bastion.auth.permissions import Permissions
from bastion.auth.revocation import Revocations
from bastion.auth.sessions import Sessions
from bastion.auth.signin import SignIn
from bastion.auth.tokens import TokenService
from bastion.config import Settings
from bastion.files.service import Files
from bastion.files.storage import UploadDir
from bastion.gateway.proxy import Gateway, build_gateway
from bastion.ratelimit import Failover, MemoryStorage, Storage, storage_from_uri
from bastion.ratelimit.failover import FailoverStorage
from bastion.ratelimit.limiter import Limiter
from bastion.ratelimit.strategies import SlidingWindowLog
from bastion.retrieval.web import WebFetcher
from bastion.runtime import RuntimeSettings
from bastion.shared.breaker import SharedRedis
from bastion.store.api_keys import ApiKeyStore
from bastion.store.chat_grants import ChatGrants
from bastion.store.chats import Chats
from bastion.store.db import Database
from bastion.store.folders import Folders
from bastion.store.groups import GroupStore
from bastion.store.mfa import MfaStore
from bastion.store.model_access import ModelAccessStore
from bastion.store.runtime_settings import RuntimeSettingsStore
from bastion.store.sessions import SessionStore
from bastion.store.users import UserRecord, Users


@dataclass(frozen=True, slots=True)
class Services:
    runtime: RuntimeSettings  # the settings, as changed at run time
    db: Database
    users: Users
    revocations: Revocations
    sessions: Sessions
    tokens: TokenService
    api_keys: ApiKeys
    authenticator: Authenticator
    hasher: PasswordHasher
    password_policy: PasswordPolicy
    events: SecurityEvents
    audit: AuditWriter
    webhook: WebhookSink | None
    syslog: SyslogSink | None
    alerts: AlertRules
    limiter: Limiter
    lockouts: Lockouts
    signin: SignIn
    groups: GroupStore
    chat_grants: ChatGrants
    permissions: Permissions
    shared: SharedRedis | None  # None without REDIS_URL: every shared fact is local
    gateway: Gateway
    chats: Chats
    folders: Folders
    files: Files
    web_fetch: WebFetcher
    mfa: Mfa  # second factors (auth/mfa.py)
    oidc: OidcSignIn | None = None  # None without OPENID_PROVIDER_URL

    @property
    def settings(self) -> Settings:
        """The settings in force: the environment's, with the changes made at run time."""
        return self.runtime.settings

    def _settings_changed(self, settings: Settings) -> None:
        """Pass the values that may change at run time to the parts that hold them."""
        auth = settings.auth
        self.tokens.expires_in = auth.jwt_expires_in
        self.authenticator.api_keys_enabled = auth.enable_api_keys
        self.authenticator.allowed_endpoints = (
            auth.api_keys_allowed_endpoints if auth.enable_api_keys_endpoint_restrictions else None
        )
        self.password_policy.pattern = auth.password_validation_regex
        self.password_policy.hint = auth.password_validation_hint
        self.gateway.reconfigure(settings)
        self.files.uploads.max_size = settings.files.file_max_size
        self.web_fetch.reconfigure(settings)

    @property
    def model_access(self) -> ModelAccessStore:
        """Who may use which model; the gateway enforces what is stored here."""
        return self.gateway.access.store

    async def start(self) -> None:
        """Connect to Redis and seed it from the database (an absent Redis is no error)."""
        if self.shared is not None:
            await self.shared.start()

    async def create_admin(self, email: str, name: str, password: str) -> UserRecord:
        """An administrator account, its password held to the policy like everyone's.

        Raises ``PasswordPolicyError`` for a password the policy refuses.
        """
        email = email.lower()
        self.password_policy.check(password, context=(email, name))
        return await self.users.create(
            email=email,
            name=name,
            password_hash=await self.hasher.hash_async(password),
            role="admin",
            first_is_admin=False,
        )

    async def close(self) -> None:
        await self.api_keys.close()  # the last uses still waiting to be written
        await self.sessions.activity.flush()
        await self.gateway.aclose()
        await self.web_fetch.aclose()
        if self.oidc is not None:
            await self.oidc.provider.aclose()
        await self.alerts.settle()  # alerts still being counted reach the sinks
        if self.shared is not None:
            await self.shared.close()
        await self.db.dispose()
        # Writes what is queued and stops the audit threads: blocking, so off the loop.
        await anyio.to_thread.run_sync(self._close_audit)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
        sinks: Sequence[EventSink] = (),
    ) -> Services:
        db = Database(settings.server.database_url)
        events = SecurityEvents([LoggingSink(), *sinks], clock=clock)
        audit = _audit_writer(settings, events)
        events.add_sink(AuditSink(audit))
        webhook = None
        if settings.audit.audit_webhook_url is not None:
            webhook = WebhookSink(settings.audit.audit_webhook_url)
            events.add_sink(webhook)
        storage = storage_from_uri(
            settings.redis.redis_url or "memory://",
            max_keys=settings.ratelimit.rate_limit_memory_max_keys,
            prefix=settings.redis.redis_key_prefix,
            timeout=settings.redis.redis_timeout,
            # Sign-in limits stay in force while Redis is away: per process, not global.
            failover=Failover(events, settings.redis.redis_retry_interval, clock),
        )
        shared = storage.shared if isinstance(storage, FailoverStorage) else None
        syslog = None
        if settings.audit.audit_syslog_address is not None:
            syslog = SyslogSink(settings.audit.audit_syslog_address)
            events.add_sink(syslog)
        # Counted apart from the limits: a flood of alert subjects evicts no limit's window.
        local = MemoryStorage(max_keys=settings.ratelimit.rate_limit_memory_max_keys)
        alert_storage: Storage = local if shared is None else FailoverStorage(shared, local)
        alerts = AlertRules(events, alert_storage, rules_from(settings.alerts))
        events.add_sink(alerts)  # last: an alert follows its event into every other sink
        cache = settings.sees_every_write
        groups = GroupStore(db, cache=cache, clock=clock)
        chats = Chats(db, clock=clock)
        users = Users(db, cache=cache, shared=shared)
        revocations = Revocations(db, cache=cache, clock=clock, shared=shared)
        if shared is not None:
            shared.on_recover.append(revocations.seed)
        limiter = Limiter(SlidingWindowLog(storage), events=events, clock=clock)
        sessions = Sessions(
            SessionStore(db),
            revocations,
            events,
            idle=settings.auth.session_idle_timeout,
            absolute=settings.auth.session_absolute_timeout,
            clock=clock,
        )
        tokens = TokenService(
            settings.auth.secret_key,
            fallback_keys=settings.auth.secret_key_fallbacks,
            expires_in=settings.auth.jwt_expires_in,
            clock=clock,
        )
        # With Redis, a cached key is checked against its generation on every use.
        api_keys = ApiKeys(
            ApiKeyStore(db), cache=cache or shared is not None, shared=shared, clock=clock
        )
        hasher = hasher or PasswordHasher()
        lockouts = Lockouts(
            db,
            free_failures=settings.ratelimit.signin_delay_after_failures,
            base_delay=settings.ratelimit.signin_delay_base,
            max_delay=settings.ratelimit.signin_delay_max,
            max_per_ip=settings.ratelimit.signin_max_failures_account_ip,
            threshold=settings.ratelimit.signin_lockout_threshold,
            storage=storage,
            clock=clock,
        )
        authenticator = Authenticator(
            tokens=tokens,
            revocations=revocations,
            sessions=sessions,
            users=users,
            api_keys=api_keys,
            api_keys_enabled=settings.auth.enable_api_keys,
            allowed_endpoints=(
                settings.auth.api_keys_allowed_endpoints
                if settings.auth.enable_api_keys_endpoint_restrictions
                else None
            ),
            limiter=limiter,
            user_limit=settings.ratelimit.api_rate_limit_user,
            key_limit=settings.ratelimit.api_rate_limit_key,
            key_failure_limit=settings.ratelimit.api_key_failure_rate_limit_ip,
            shared=shared,
        )
        signin = SignIn(
            users=users,
            hasher=hasher,
            lockouts=lockouts,
            limiter=limiter,
            limits=settings.ratelimit,
            events=events,
        )
        mfa = Mfa(
            store=MfaStore(db),
            users=users,
            signin=signin,
            events=events,
            settings=settings.mfa,
            clock=clock,
        )
        signin.needs_second_factor = mfa.has_factor
        runtime = RuntimeSettings(settings, RuntimeSettingsStore(db), shared=shared, clock=clock)
        if shared is not None:
            shared.on_recover.append(runtime.seed)
        services = cls(
            runtime=runtime,
            db=db,
            users=users,
            revocations=revocations,
            sessions=sessions,
            tokens=tokens,
            api_keys=api_keys,
            authenticator=authenticator,
            hasher=hasher,
            password_policy=PasswordPolicy(
                min_length=settings.auth.password_min_length,
                pattern=settings.auth.password_validation_regex,
                hint=settings.auth.password_validation_hint,
            ),
            events=events,
            audit=audit,
            webhook=webhook,
            syslog=syslog,
            alerts=alerts,
            limiter=limiter,
            lockouts=lockouts,
            signin=signin,
            shared=shared,
            groups=groups,
            permissions=Permissions(groups, settings.auth.user_permissions),
            gateway=build_gateway(settings, db, events, groups, clock=clock),
            chats=chats,
            chat_grants=ChatGrants(db, chats, clock=clock),
            folders=Folders(db, clock=clock),
            files=Files(
                db,
                UploadDir(settings.files.upload_dir, max_size=settings.files.file_max_size),
                clock=clock,
            ),
            web_fetch=WebFetcher.from_settings(settings),
            mfa=mfa,
            oidc=build_oidc(
                settings, runtime, db, users, groups, revocations, sessions, events, clock
            ),
        )
        runtime.on_change.append(services._settings_changed)
        authenticator.settings_from_database = runtime.refresh_from_database
        authenticator.settings_refresh = runtime.refresh
        return services

    def _close_audit(self) -> None:
        self.audit.close()
        if self.webhook is not None:
            self.webhook.close()
        if self.syslog is not None:
            self.syslog.close()


def _audit_writer(settings: Settings, events: SecurityEvents) -> AuditWriter:
    log_file = (
        LogFile(
            settings.audit.audit_logs_file_path,
            rotation_size=settings.audit.audit_log_file_rotation_size,
            retention=settings.audit.audit_log_file_retention,
        )
        if settings.audit.enable_audit_logs_file
        else None
    )

    def report(type_: str, details: dict[str, Any]) -> None:
        # The writer's own trouble is a security event too: it reaches every sink.
        outcome: Outcome = "failure" if type_ == "audit.write_failed" else "info"
        events.record(type_, outcome=outcome, **details)

    return AuditWriter(
        log_file, stdout=sys.stdout if settings.audit.enable_audit_stdout else None, report=report
    )
