"""The single sign-on settings (``OPENID_*``, ``OAUTH_*``, ``ENABLE_LOGIN_FORM``,
``WEBUI_AUTH_TRUSTED_*``): open-webui's defaults, derived values and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

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
