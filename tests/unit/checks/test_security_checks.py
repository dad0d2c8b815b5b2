"""One test per security check: the exact messages for a bad configuration, none for a
good one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.checks import Level, Message, Target, security
from bastion.checks.registry import Check
from bastion.config import load_settings

KEY = "k" * 43


def _run(
    check: Check, tmp_path: Path, accounts_exist: bool | None = None, **env: str
) -> list[Message]:
    settings = load_settings({"DATA_DIR": str(tmp_path / "data"), "WEBUI_SECRET_KEY": KEY, **env})
    return list(check(Target(settings, accounts_exist=accounts_exist)))


def _ids(messages: list[Message]) -> list[str]:
    return [message.id for message in messages]


def test_secret_key_file_readable_by_others_is_an_error(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    key_file = settings.auth.secret_key_file
    assert key_file is not None
    assert list(security.check_secret_key_file(Target(settings))) == []
    os.chmod(key_file, 0o644)
    assert list(security.check_secret_key_file(Target(settings))) == [
        Message(
            "bastion.E001",
            Level.ERROR,
            f"the secret key file {key_file} can be read by other users, who could forge tokens",
            f"run chmod 600 {key_file}",
        )
    ]


def test_a_generated_secret_key_is_a_deploy_warning(tmp_path: Path) -> None:
    generated = load_settings({"DATA_DIR": str(tmp_path)})
    [message] = security.check_secret_key_source(Target(generated))
    assert message.id == "bastion.W001" and message.level is Level.WARNING
    assert str(generated.auth.secret_key_file) in message.problem
    assert "WEBUI_SECRET_KEY" in message.hint
    assert _run(security.check_secret_key_source, tmp_path) == []


def test_token_lifetime_without_expiry_or_over_30_days(tmp_path: Path) -> None:
    assert _ids(_run(security.check_token_lifetime, tmp_path, JWT_EXPIRES_IN="-1")) == [
        "bastion.W002"
    ]
    [longer] = _run(security.check_token_lifetime, tmp_path, JWT_EXPIRES_IN="45d")
    assert (longer.id, longer.problem) == (
        "bastion.W003",
        "JWT_EXPIRES_IN is 45 days, longer than 30",
    )
    assert _run(security.check_token_lifetime, tmp_path, JWT_EXPIRES_IN="30d") == []
    assert _run(security.check_token_lifetime, tmp_path) == []


def test_cookies_not_secure_or_auto_without_https(tmp_path: Path) -> None:
    plain = _run(
        security.check_cookies_secure,
        tmp_path,
        WEBUI_SESSION_COOKIE_SECURE="false",
        WEBUI_AUTH_COOKIE_SECURE="auto",
    )
    assert [(m.id, m.problem) for m in plain] == [
        (
            "bastion.W010",
            "WEBUI_SESSION_COOKIE_SECURE=false: the cookie also travels over plain http",
        ),
        (
            "bastion.W011",
            "WEBUI_AUTH_COOKIE_SECURE=auto and WEBUI_URL is not https, so nothing shows that "
            "the cookie is only sent over HTTPS",
        ),
    ]
    assert _run(security.check_cookies_secure, tmp_path, WEBUI_URL="https://chat.example.com") == []
    assert _run(security.check_cookies_secure, tmp_path, WEBUI_SESSION_COOKIE_SECURE="true") == []


def test_same_site_none(tmp_path: Path) -> None:
    found = _run(security.check_cookies_same_site, tmp_path, WEBUI_AUTH_COOKIE_SAME_SITE="none")
    assert [(m.id, m.problem, m.hint) for m in found] == [
        (
            "bastion.W012",
            "WEBUI_AUTH_COOKIE_SAME_SITE=none: other sites' requests carry the cookie",
            "set WEBUI_AUTH_COOKIE_SAME_SITE=lax or strict",
        )
    ]
    assert _run(security.check_cookies_same_site, tmp_path) == []


@pytest.mark.parametrize(
    ("hsts", "expected"),
    [
        ("", ["bastion.W020"]),
        ("max-age=86400", ["bastion.W021"]),
        ("max-age=15552000", []),
        (None, []),
    ],
)
def test_hsts_off_or_under_six_months(
    tmp_path: Path, hsts: str | None, expected: list[str]
) -> None:
    env = {} if hsts is None else {"HSTS": hsts}
    assert _ids(_run(security.check_hsts, tmp_path, **env)) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("", ["bastion.W022"]),
        ("default-src 'self' 'unsafe-inline'; frame-ancestors 'none'", ["bastion.W023"]),
        ("default-src 'self'", ["bastion.W024"]),
        ("script-src 'unsafe-eval' 'unsafe-inline'", ["bastion.W023", "bastion.W024"]),
        ("default-src 'self'; frame-ancestors 'none'", []),
        (None, []),
    ],
)
def test_csp_off_unsafe_or_without_frame_ancestors(
    tmp_path: Path, policy: str | None, expected: list[str]
) -> None:
    env = {} if policy is None else {"CONTENT_SECURITY_POLICY": policy}
    assert _ids(_run(security.check_csp, tmp_path, **env)) == expected


def test_csp_message_names_what_it_allows(tmp_path: Path) -> None:
    [message, _] = _run(
        security.check_csp,
        tmp_path,
        CONTENT_SECURITY_POLICY="script-src 'unsafe-eval' 'unsafe-inline'",
    )
    assert message.problem == (
        "CONTENT_SECURITY_POLICY allows 'unsafe-inline' and 'unsafe-eval', which lets "
        "injected script run"
    )


def test_x_frame_options_off(tmp_path: Path) -> None:
    assert _ids(_run(security.check_x_frame_options, tmp_path, XFRAME_OPTIONS="")) == [
        "bastion.W025"
    ]
    assert _run(security.check_x_frame_options, tmp_path) == []


def test_cors_wildcard_and_plain_http_origins(tmp_path: Path) -> None:
    assert _ids(_run(security.check_cors_wildcard, tmp_path, CORS_ALLOW_ORIGIN="*")) == [
        "bastion.W030"
    ]
    mixed = "https://chat.example.com;http://intranet.example.com"
    [plain] = _run(security.check_cors_plain_http, tmp_path, CORS_ALLOW_ORIGIN=mixed)
    assert (plain.id, plain.problem) == (
        "bastion.W031",
        "CORS_ALLOW_ORIGIN trusts http://intranet.example.com, whose pages anyone on the path "
        "can change",
    )
    good = {"CORS_ALLOW_ORIGIN": "https://chat.example.com"}
    assert _run(security.check_cors_wildcard, tmp_path, **good) == []
    assert _run(security.check_cors_plain_http, tmp_path, **good) == []


def test_forwarded_allow_ips_anyone_or_a_public_range(tmp_path: Path) -> None:
    assert _ids(_run(security.check_forwarded_allow_ips, tmp_path, FORWARDED_ALLOW_IPS="*")) == [
        "bastion.W032"
    ]
    found = _run(
        security.check_forwarded_allow_ips,
        tmp_path,
        FORWARDED_ALLOW_IPS="10.0.0.0/8,1.2.3.0/24",
    )
    assert [(m.id, m.problem) for m in found] == [
        (
            "bastion.W033",
            "FORWARDED_ALLOW_IPS trusts the public range 1.2.3.0/24: anyone there can choose "
            "the client address Bastion sees",
        )
    ]
    private = "127.0.0.1,10.0.0.0/8,172.16.0.0/12,fd00::/8"
    assert _run(security.check_forwarded_allow_ips, tmp_path, FORWARDED_ALLOW_IPS=private) == []


def test_api_keys_without_endpoint_restrictions(tmp_path: Path) -> None:
    on = {"ENABLE_API_KEYS": "true"}
    assert _ids(_run(security.check_api_key_restrictions, tmp_path, **on)) == ["bastion.W040"]
    switched_on_but_empty = {**on, "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": "true"}
    assert _ids(_run(security.check_api_key_restrictions, tmp_path, **switched_on_but_empty)) == [
        "bastion.W040"
    ]
    restricted = {**switched_on_but_empty, "API_KEYS_ALLOWED_ENDPOINTS": "/api/chat/completions"}
    assert _run(security.check_api_key_restrictions, tmp_path, **restricted) == []
    assert _run(security.check_api_key_restrictions, tmp_path) == []


@pytest.mark.parametrize(
    ("role", "expected"),
    [("user", [("bastion.W041", Level.WARNING)]), ("admin", [("bastion.E041", Level.ERROR)])],
)
def test_open_signup_that_grants_a_role_at_once(
    tmp_path: Path, role: str, expected: list[tuple[str, Level]]
) -> None:
    found = _run(security.check_open_signup, tmp_path, ENABLE_SIGNUP="true", DEFAULT_USER_ROLE=role)
    assert [(m.id, m.level) for m in found] == expected
    assert found[0].problem == f"sign-up is open and new accounts get the role {role} at once"
    closed = {"ENABLE_SIGNUP": "false", "DEFAULT_USER_ROLE": role}
    assert _run(security.check_open_signup, tmp_path, **closed) == []
    assert _run(security.check_open_signup, tmp_path, DEFAULT_USER_ROLE="pending") == []


def test_admin_password_left_in_the_environment_once_accounts_exist(tmp_path: Path) -> None:
    admin = {"WEBUI_ADMIN_EMAIL": "admin@example.com", "WEBUI_ADMIN_PASSWORD": "a long passphrase"}
    check = security.check_admin_password_left_in_environment
    assert _ids(_run(check, tmp_path, accounts_exist=True, **admin)) == ["bastion.W042"]
    assert _run(check, tmp_path, accounts_exist=False, **admin) == []  # still needed at start
    assert _run(check, tmp_path, accounts_exist=None, **admin) == []  # not known
    assert _run(check, tmp_path, accounts_exist=True) == []
