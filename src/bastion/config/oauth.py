"""Single sign-on: the OpenID Connect provider, how its accounts map to Bastion's, the
password form beside it, and the headers a trusted proxy may sign people in with.

Names and defaults are open-webui's (``OPENID_PROVIDER_URL``, ``OAUTH_*``,
``ENABLE_LOGIN_FORM``, ``WEBUI_AUTH_TRUSTED_*``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import SplitResult

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bastion.config.reader import EnvReader, SettingsError, file_path, split_url

DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class ClientKey:
    """The key Bastion proves itself to the token endpoint with (``private_key_jwt``)."""

    pem: bytes = field(repr=False)
    algorithm: str  # RS256 for an RSA key, ES256 for a P-256 one
    kid: str | None  # OAUTH_CLIENT_PRIVATE_KEY_ID, when the provider holds several


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    # The discovery document's URL; None: no single sign-on.
    openid_provider_url: str | None
    oauth_client_id: str | None
    oauth_client_secret: str | None = field(repr=False)
    # When set, the token endpoint is called with a signed assertion, not the secret.
    oauth_client_private_key: ClientKey | None
    oauth_scopes: str
    oauth_provider_name: str
    openid_redirect_uri: str | None  # OPENID_REDIRECT_URI, or WEBUI_URL's callback

    enable_oauth_signup: bool
    oauth_merge_accounts_by_email: bool
    enable_oauth_role_management: bool
    oauth_roles_claim: str
    oauth_allowed_roles: tuple[str, ...]
    oauth_admin_roles: tuple[str, ...]
    enable_oauth_group_management: bool
    oauth_group_claim: str

    enable_login_form: bool
    enable_oauth_backchannel_logout: bool  # the provider may end sessions here
    enable_oauth_id_token_cookie: bool
    # Keys that seal the provider's tokens, newest first; empty: derived from the secret key.
    oauth_session_token_encryption_key: tuple[str, ...] = field(repr=False)
    webui_auth_signout_redirect_url: str | None

    webui_auth_trusted_email_header: str | None
    webui_auth_trusted_name_header: str | None
    webui_auth_trusted_groups_header: str | None

    @property
    def oidc_enabled(self) -> bool:
        return self.openid_provider_url is not None


def read_oauth(env: EnvReader, webui_url: str | None) -> OAuthSettings:
    provider = _provider_url(env)
    client_id = env.optional("OAUTH_CLIENT_ID")
    if provider is not None and client_id is None:
        raise SettingsError(
            "OAUTH_CLIENT_ID",
            "OPENID_PROVIDER_URL is set but no client id is",
            "set OAUTH_CLIENT_ID to the client registered at the provider",
        )
    redirect = env.optional("OPENID_REDIRECT_URI")
    if redirect is None and webui_url is not None:
        redirect = f"{webui_url.rstrip('/')}/oauth/oidc/callback"
    if provider is not None and redirect is None:
        # Derived from the request's Host instead, a forged Host would choose where the
        # provider sends the code.
        raise SettingsError(
            "OPENID_REDIRECT_URI",
            "single sign-on needs the address the provider sends people back to",
            "set WEBUI_URL (the callback is derived from it) or OPENID_REDIRECT_URI",
        )
    if redirect is not None:
        _absolute_url(env, "OPENID_REDIRECT_URI", redirect)
    signout = env.optional("WEBUI_AUTH_SIGNOUT_REDIRECT_URL")
    if signout is not None:
        _absolute_url(env, "WEBUI_AUTH_SIGNOUT_REDIRECT_URL", signout)
    return OAuthSettings(
        openid_provider_url=provider,
        oauth_client_id=client_id,
        oauth_client_secret=env.raw("OAUTH_CLIENT_SECRET") or None,
        oauth_client_private_key=_client_key(env),
        oauth_scopes=env.text("OAUTH_SCOPES", "openid email profile") or "openid email profile",
        oauth_provider_name=env.text("OAUTH_PROVIDER_NAME", "SSO") or "SSO",
        openid_redirect_uri=redirect,
        enable_oauth_signup=env.flag("ENABLE_OAUTH_SIGNUP", False),
        oauth_merge_accounts_by_email=env.flag("OAUTH_MERGE_ACCOUNTS_BY_EMAIL", False),
        enable_oauth_role_management=env.flag("ENABLE_OAUTH_ROLE_MANAGEMENT", False),
        oauth_roles_claim=env.text("OAUTH_ROLES_CLAIM", "roles") or "roles",
        oauth_allowed_roles=env.csv("OAUTH_ALLOWED_ROLES") or ("user", "admin"),
        oauth_admin_roles=env.csv("OAUTH_ADMIN_ROLES") or ("admin",),
        enable_oauth_group_management=env.flag("ENABLE_OAUTH_GROUP_MANAGEMENT", False),
        oauth_group_claim=env.text("OAUTH_GROUP_CLAIM", "groups") or "groups",
        enable_login_form=env.flag("ENABLE_LOGIN_FORM", True),
        enable_oauth_backchannel_logout=env.flag("ENABLE_OAUTH_BACKCHANNEL_LOGOUT", False),
        enable_oauth_id_token_cookie=env.flag("ENABLE_OAUTH_ID_TOKEN_COOKIE", True),
        oauth_session_token_encryption_key=env.csv("OAUTH_SESSION_TOKEN_ENCRYPTION_KEY"),
        webui_auth_signout_redirect_url=signout,
        webui_auth_trusted_email_header=_header(env, "WEBUI_AUTH_TRUSTED_EMAIL_HEADER"),
        webui_auth_trusted_name_header=_header(env, "WEBUI_AUTH_TRUSTED_NAME_HEADER"),
        webui_auth_trusted_groups_header=_header(env, "WEBUI_AUTH_TRUSTED_GROUPS_HEADER"),
    )


def _provider_url(env: EnvReader) -> str | None:
    url = env.optional("OPENID_PROVIDER_URL")
    if url is None:
        return None
    parts = _absolute_url(env, "OPENID_PROVIDER_URL", url)
    if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        raise SettingsError(
            "OPENID_PROVIDER_URL",
            "the provider is reached over plain http",
            "use the provider's https:// address (http is accepted on loopback only)",
        )
    if not parts.path.endswith(DISCOVERY_PATH):
        url = url.rstrip("/") + DISCOVERY_PATH
    return url


def _client_key(env: EnvReader) -> ClientKey | None:
    name = "OAUTH_CLIENT_PRIVATE_KEY_FILE"
    path = env.optional(name)
    if path is None:
        return None
    try:
        pem = file_path(name, path).read_bytes()
    except OSError as failed:
        reason = failed.strerror or type(failed).__name__
        raise SettingsError(
            name, f"{path!r} cannot be read ({reason})", "give the path of a PEM private key"
        ) from None
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SettingsError(
            name,
            f"{path!r} holds no unencrypted PEM private key",
            "give an RSA or EC P-256 private key in PEM, without a passphrase",
        ) from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        algorithm = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = "ES256"
    else:
        raise SettingsError(
            name,
            f"{path!r} is not an RSA key of 2048 bits or more, nor an EC P-256 key",
            "use an RSA (RS256) or EC P-256 (ES256) key",
        )
    return ClientKey(pem=pem, algorithm=algorithm, kid=env.optional("OAUTH_CLIENT_PRIVATE_KEY_ID"))


def _absolute_url(_env: EnvReader, name: str, url: str) -> SplitResult:
    parts = split_url(name, url, "give a full URL")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise SettingsError(name, f"{url!r} is not an absolute http(s) URL", "give a full URL")
    return parts


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(env: EnvReader, name: str) -> str | None:
    value = env.optional(name)
    return None if value is None else value.lower()
