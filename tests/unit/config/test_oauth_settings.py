"""The single sign-on settings (``OPENID_*``, ``OAUTH_*``, ``ENABLE_LOGIN_FORM``,
``WEBUI_AUTH_TRUSTED_*``): open-webui's defaults, derived values and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bastion.config import SettingsError, load_settings


def _load(tmp_path: Path, **env: str):
    return load_settings({"DATA_DIR": str(tmp_path), **env}).oauth


def test_oauth_defaults_are_open_webuis(tmp_path: Path) -> None:
    oauth = _load(tmp_path)
    assert oauth.oidc_enabled is False
    assert oauth.oauth_scopes == "openid email profile"
    assert oauth.oauth_provider_name == "SSO"
    assert (oauth.enable_oauth_signup, oauth.oauth_merge_accounts_by_email) == (False, False)
    assert (oauth.oauth_roles_claim, oauth.oauth_group_claim) == ("roles", "groups")
    assert oauth.oauth_allowed_roles == ("user", "admin")
    assert oauth.oauth_admin_roles == ("admin",)
    assert oauth.enable_login_form is True
    assert oauth.enable_oauth_backchannel_logout is False
    assert oauth.enable_oauth_id_token_cookie is True
    assert oauth.oauth_session_token_encryption_key == ()
    assert oauth.webui_auth_trusted_email_header is None


def test_the_callback_is_derived_from_webui_url_and_discovery_completed(tmp_path: Path) -> None:
    oauth = _load(
        tmp_path,
        OPENID_PROVIDER_URL="https://idp.example.com/realms/x",
        OAUTH_CLIENT_ID="bastion",
        WEBUI_URL="https://chat.example.com/",
        OAUTH_SESSION_TOKEN_ENCRYPTION_KEY="new,old",
    )
    assert oauth.openid_provider_url == (
        "https://idp.example.com/realms/x/.well-known/openid-configuration"
    )
    assert oauth.openid_redirect_uri == "https://chat.example.com/oauth/oidc/callback"
    assert oauth.oauth_session_token_encryption_key == ("new", "old")
    assert "new" not in repr(oauth)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OPENID_PROVIDER_URL": "https://idp.example.com"}, "OAUTH_CLIENT_ID"),
        (
            {"OPENID_PROVIDER_URL": "https://idp.example.com", "OAUTH_CLIENT_ID": "c"},
            "OPENID_REDIRECT_URI",
        ),
        (
            {
                "OPENID_PROVIDER_URL": "http://idp.example.com",
                "OAUTH_CLIENT_ID": "c",
                "WEBUI_URL": "https://chat.example.com",
            },
            "OPENID_PROVIDER_URL",
        ),
        ({"WEBUI_AUTH_SIGNOUT_REDIRECT_URL": "/relative"}, "WEBUI_AUTH_SIGNOUT_REDIRECT_URL"),
    ],
)
def test_unusable_oauth_settings_stop_the_start(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, **env)
    assert refused.value.variable == variable


def test_plain_http_is_accepted_for_a_provider_on_loopback(tmp_path: Path) -> None:
    oauth = _load(
        tmp_path,
        OPENID_PROVIDER_URL="http://127.0.0.1:8080/.well-known/openid-configuration",
        OAUTH_CLIENT_ID="c",
        OPENID_REDIRECT_URI="http://localhost:8080/oauth/oidc/callback",
    )
    assert oauth.openid_provider_url == "http://127.0.0.1:8080/.well-known/openid-configuration"


def _pem(key, password: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    encryption = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@pytest.mark.parametrize(
    ("make", "algorithm"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
    ],
)
def test_a_client_key_file_chooses_its_algorithm(tmp_path: Path, make, algorithm: str) -> None:
    path = tmp_path / "client.pem"
    path.write_bytes(_pem(make()))
    oauth = _load(
        tmp_path, OAUTH_CLIENT_PRIVATE_KEY_FILE=str(path), OAUTH_CLIENT_PRIVATE_KEY_ID="k1"
    )
    key = oauth.oauth_client_private_key
    assert key is not None and (key.algorithm, key.kid) == (algorithm, "k1")
    assert b"PRIVATE KEY" not in repr(oauth).encode()
    assert _load(tmp_path).oauth_client_private_key is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot be read"),
        (b"not a key", "no unencrypted PEM private key"),
        ("encrypted", "no unencrypted PEM private key"),
        ("rsa1024", "not an RSA key of 2048 bits or more"),
        ("p384", "not an RSA key of 2048 bits or more"),
    ],
)
def test_an_unusable_client_key_file_stops_the_start(
    tmp_path: Path, content: bytes | str | None, problem: str
) -> None:
    path = tmp_path / "client.pem"
    if content == "encrypted":
        path.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1()), b"passphrase"))
    elif content == "rsa1024":
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
        path.write_bytes(_pem(weak))
    elif content == "p384":
        path.write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, OAUTH_CLIENT_PRIVATE_KEY_FILE=str(path))
    assert refused.value.variable == "OAUTH_CLIENT_PRIVATE_KEY_FILE"
    assert problem in str(refused.value)
