"""Settings: read from the environment once, at start, into one frozen object.

``Settings`` is composed of one frozen section per area (``settings.auth``,
``settings.http``…), each read by its own module. Fields keep the names of their
variables, lower-cased and mostly without ``WEBUI_`` (``JWT_EXPIRES_IN`` is
``settings.auth.jwt_expires_in``), so that one is found from the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bastion.config.alerts import AlertSettings, read_alerts
from bastion.config.audit import AuditSettings, read_audit
from bastion.config.auth import AuthSettings, read_auth
from bastion.config.files import FilesSettings, read_files
from bastion.config.gateway import GatewaySettings, read_gateway
from bastion.config.http import HttpSettings, read_http
from bastion.config.mfa import MfaSettings, read_mfa
from bastion.config.oauth import OAuthSettings, read_oauth
from bastion.config.outbound import OutboundSettings, read_outbound
from bastion.config.ratelimit import RateLimitSettings, read_ratelimit
from bastion.config.reader import EnvReader
from bastion.config.redis import RedisSettings, read_redis
from bastion.config.server import ServerSettings, read_server


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings
    auth: AuthSettings
    http: HttpSettings
    audit: AuditSettings
    gateway: GatewaySettings
    files: FilesSettings
    outbound: OutboundSettings
    redis: RedisSettings
    ratelimit: RateLimitSettings
    alerts: AlertSettings
    mfa: MfaSettings
    oauth: OAuthSettings

    # Values replaced by their documented safe fallback, one line each, printed at start.
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # What the start says about itself (where the secret key came from), one line each.
    notices: tuple[str, ...] = field(default=(), compare=False)
    # The variables these settings were read from, to read them again with the settings
    # changed at run time (``bastion.runtime``). Secrets among them: never shown.
    environ: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sees_every_write(self) -> bool:
        """Whether every write to the database goes through this process.

        Then it may answer from memory what would otherwise need the database on each
        request: revocations, accounts and model access. Only one worker on the embedded
        SQLite database is alone; on PostgreSQL other instances may share the database,
        and without Redis every check must reach it.
        """
        return (
            self.redis.redis_url is None
            and self.server.workers == 1
            and self.server.database_url.startswith("sqlite")
        )


def load_settings(environ: Mapping[str, str] | None = None, **server: object) -> Settings:
    """Build the settings from ``environ`` (the process environment by default).

    ``server`` replaces fields of the server section after reading, for values that come
    from the command line (``host``, ``port``, ``workers``); ``None`` keeps the read one.
    """
    env = EnvReader(os.environ if environ is None else environ)
    server_settings = read_server(env)
    data_dir = server_settings.data_dir
    # Overrides come from the command line and tests, already typed by their callers.
    overrides: dict[str, object] = {
        name: value for name, value in server.items() if value is not None
    }
    auth = read_auth(env, data_dir)
    settings = Settings(
        server=replace(server_settings, **overrides),  # type: ignore[arg-type]
        auth=auth,
        http=read_http(env),
        audit=read_audit(env, data_dir),
        gateway=read_gateway(env),
        files=read_files(env, data_dir),
        outbound=read_outbound(env),
        redis=read_redis(env),
        ratelimit=read_ratelimit(env),
        alerts=read_alerts(env),
        mfa=read_mfa(env, auth),
        oauth=read_oauth(env, env.optional("WEBUI_URL")),
    )
    return replace(
        settings,
        warnings=tuple(env.warnings),
        notices=tuple(env.notices),
        environ=dict(os.environ if environ is None else environ),
    )
