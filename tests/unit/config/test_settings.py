"""Settings: every bad value stops the start with one line; the secret key is handled safely."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bastion.config import (
    SECRET_KEY_FILE,
    CookieSecure,
    SettingsError,
    load_settings,
    parse_duration,
    parse_size,
)
from bastion.config.reader import RateLimit


def _load(tmp_path: Path, **env: str):
    return load_settings({"DATA_DIR": str(tmp_path / "data"), **env})


@pytest.mark.parametrize(
    "key", ["t0p-s3cr3t", "changeme", "CHANGEME", "secret", "short-but-random-7f3a"]
)
def test_weak_or_default_secret_key_is_refused_with_one_line(tmp_path: Path, key: str) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, WEBUI_SECRET_KEY=key)
    message = str(raised.value)
    assert message.startswith("WEBUI_SECRET_KEY: ")
    assert "Fix: " in message and "\n" not in message


def test_generated_secret_is_0600_and_reused_on_restart(tmp_path: Path) -> None:
    first = _load(tmp_path)
    key_file = tmp_path / "data" / SECRET_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.auth.secret_key) >= 43  # 256 bits, url-safe base64
    assert key_file.read_text().strip() == first.auth.secret_key
    assert _load(tmp_path).auth.secret_key == first.auth.secret_key
    other = load_settings({"DATA_DIR": str(tmp_path / "elsewhere")})
    assert other.auth.secret_key != first.auth.secret_key


def test_secret_file_with_loose_permissions_is_tightened(tmp_path: Path) -> None:
    _load(tmp_path)
    key_file = tmp_path / "data" / SECRET_KEY_FILE
    key_file.chmod(0o644)
    _load(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path.write_text(""), "holds no key"),
        (lambda path: path.write_text("too-short\n"), "holds a key that is too short"),
        (lambda path: path.symlink_to(path.parent / "gone" / "key"), "cannot be read as a file"),
        (lambda path: path.mkdir(), "cannot be read"),
    ],
)
def test_a_key_file_that_holds_no_usable_key_stops_the_start_with_one_line(
    tmp_path: Path, make, problem: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make(data / SECRET_KEY_FILE)
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path)
    assert refused.value.variable == "WEBUI_SECRET_KEY"
    assert problem in str(refused.value)
    assert sorted(path.name for path in data.iterdir()) == [SECRET_KEY_FILE]  # no draft left


def test_without_hard_links_the_key_file_is_written_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    key = _load(tmp_path).auth.secret_key
    data = tmp_path / "data"
    assert (data / SECRET_KEY_FILE).read_text().strip() == key
    assert stat.S_IMODE((data / SECRET_KEY_FILE).stat().st_mode) == 0o600
    assert not [path for path in data.iterdir() if path.name.endswith(".new")]
    assert _load(tmp_path).auth.secret_key == key


def test_workers_starting_at_once_share_one_generated_key(tmp_path: Path) -> None:
    import multiprocessing

    from bastion.config.secret_key import load_or_create_secret_file

    path = tmp_path / SECRET_KEY_FILE
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        keys = pool.map(load_or_create_secret_file, [path] * 32)
    assert len(set(keys)) == 1 and path.read_text().strip() == keys[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRET_KEY_FILE]


def test_data_dir_is_created_0700(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert stat.S_IMODE(settings.server.data_dir.stat().st_mode) == 0o700


def test_configured_secret_is_used_and_never_shown(tmp_path: Path) -> None:
    key = "x" * 16 + "y" * 16
    settings = _load(tmp_path, WEBUI_SECRET_KEY=key)
    assert settings.auth.secret_key == key
    assert key not in repr(settings)
    assert not (tmp_path / "data" / SECRET_KEY_FILE).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("4w", timedelta(weeks=4)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7x", "d7", "-5m", "0m", "1d-2h", "forever"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_session_timeouts_default_to_a_day_idle_and_thirty_days_in_all(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.auth.session_idle_timeout == timedelta(hours=24)
    assert settings.auth.session_absolute_timeout == timedelta(days=30)
    changed = _load(tmp_path, SESSION_IDLE_TIMEOUT="30m", SESSION_ABSOLUTE_TIMEOUT="1d12h")
    assert changed.auth.session_idle_timeout == timedelta(minutes=30)
    assert changed.auth.session_absolute_timeout == timedelta(hours=36)


def test_jwt_expires_in_minus_one_warns(tmp_path: Path) -> None:
    settings = _load(tmp_path, JWT_EXPIRES_IN="-1")
    assert settings.auth.jwt_expires_in is None
    assert any(w.startswith("JWT_EXPIRES_IN:") for w in settings.warnings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_EXPIRES_IN", "seven days"),
        ("SESSION_IDLE_TIMEOUT", "a day"),
        ("SESSION_IDLE_TIMEOUT", "1m"),
        ("SESSION_ABSOLUTE_TIMEOUT", "-1"),
        ("WEBUI_AUTH_COOKIE_SECURE", "maybe"),
        ("WEBUI_SESSION_COOKIE_SAME_SITE", "loose"),
        ("CORS_ALLOW_ORIGIN", "chat.example.com"),
        ("CORS_ALLOW_ORIGIN", "https://ok.example.com;ftp://bad.example.com"),
        ("CORS_ALLOW_ORIGIN", "https://chat.example.com/path"),
        ("FORWARDED_ALLOW_IPS", "10.0.0.0/8,not-an-ip"),
        ("DEFAULT_USER_ROLE", "root"),
        ("ENABLE_SIGNUP", "perhaps"),
        ("PASSWORD_MIN_LENGTH", "4"),
        ("PASSWORD_MIN_LENGTH", "eight"),
        ("DATABASE_URL", "mysql://db/bastion"),
        ("MAX_REQUEST_BODY_SIZE", "lots"),
        ("WEBUI_URL", "chat.example.com"),
        ("API_KEYS_ALLOWED_ENDPOINTS", "api/models"),
        ("PORT", "70000"),
        ("ALLOWED_HOSTS", "chat.example.com,bad host"),
        ("ALLOWED_HOSTS", "*,chat.example.com"),
        ("ALLOWED_HOSTS", " , "),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, **{variable: value})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ") and "\n" not in str(raised.value)


def test_same_site_none_needs_secure(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, WEBUI_AUTH_COOKIE_SAME_SITE="none", WEBUI_AUTH_COOKIE_SECURE="false")
    assert raised.value.variable == "WEBUI_AUTH_COOKIE_SAME_SITE"
    assert (
        _load(
            tmp_path, WEBUI_AUTH_COOKIE_SAME_SITE="none", WEBUI_AUTH_COOKIE_SECURE="true"
        ).auth.auth_cookie_same_site
        == "none"
    )


def test_auth_cookie_settings_fall_back_to_the_session_ones(tmp_path: Path) -> None:
    settings = _load(
        tmp_path, WEBUI_SESSION_COOKIE_SECURE="true", WEBUI_SESSION_COOKIE_SAME_SITE="strict"
    )
    assert settings.auth.auth_cookie_secure is CookieSecure.TRUE
    assert settings.auth.auth_cookie_same_site == "strict"
    assert _load(tmp_path).auth.auth_cookie_secure is CookieSecure.AUTO


def test_password_regex_must_compile(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, ENABLE_PASSWORD_VALIDATION="true", PASSWORD_VALIDATION_REGEX_PATTERN="(")
    assert raised.value.variable == "PASSWORD_VALIDATION_REGEX_PATTERN"


def test_admin_email_without_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, WEBUI_ADMIN_EMAIL="admin@example.com")
    assert raised.value.variable == "WEBUI_ADMIN_PASSWORD"


def test_cors_origins_are_normalised_and_wildcard_warns(tmp_path: Path) -> None:
    settings = _load(
        tmp_path, CORS_ALLOW_ORIGIN="https://Chat.Example.com ; http://localhost:3000/"
    )
    assert settings.http.cors_allow_origins == ("https://chat.example.com", "http://localhost:3000")
    wildcard = _load(tmp_path, CORS_ALLOW_ORIGIN="*")
    assert wildcard.http.cors_allow_origins == ("*",)
    assert any(w.startswith("CORS_ALLOW_ORIGIN:") for w in wildcard.warnings)


def test_allowed_hosts_default_to_any_and_are_lower_cased(tmp_path: Path) -> None:
    assert _load(tmp_path).http.allowed_hosts == ("*",)
    settings = _load(tmp_path, ALLOWED_HOSTS="Chat.Example.com, *.example.org")
    assert settings.http.allowed_hosts == ("chat.example.com", "*.example.org")


def test_forwarded_allow_ips_takes_addresses_and_networks(tmp_path: Path) -> None:
    settings = _load(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1, 10.0.0.0/8, ::1")
    assert [str(net) for net in settings.http.forwarded_allow_ips] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]


def test_sizes() -> None:
    assert parse_size("2048") == 2048
    assert parse_size("64KiB") == 65536
    assert parse_size("10MB") == 10_000_000
    assert parse_size("1 MiB") == 1_048_576
    with pytest.raises(ValueError):
        parse_size("ten")


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    with pytest.raises(AttributeError):
        settings.auth.enable_signup = False  # type: ignore[misc]


def test_nothing_is_read_from_the_process_environment_when_a_mapping_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENABLE_SIGNUP", "false")
    assert _load(tmp_path).auth.enable_signup is True
    assert os.environ["ENABLE_SIGNUP"] == "false"


# Files, web fetch and the outbound client


def test_file_and_outbound_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.files.upload_dir == (tmp_path / "data" / "uploads").resolve()
    assert stat.S_IMODE(settings.files.upload_dir.stat().st_mode) == 0o700
    assert settings.files.file_max_size == 25 * 1024 * 1024
    assert settings.outbound.enable_local_web_fetch is False
    assert settings.outbound.web_fetch_filter_list == ()
    assert settings.outbound.enable_web_loader_ssl_verification is True
    assert settings.ratelimit.web_fetch_rate_limit == RateLimit(20, 60.0)
    assert (
        settings.outbound.outbound_connect_timeout,
        settings.outbound.outbound_read_timeout,
        settings.outbound.outbound_timeout,
    ) == (10.0, 30.0, 60.0)
    assert settings.outbound.outbound_max_response_size == 8 * 1024 * 1024


def test_upload_dir_is_created_private_and_loose_modes_are_tightened(tmp_path: Path) -> None:
    loose = tmp_path / "shared-uploads"
    loose.mkdir(mode=0o777)
    loose.chmod(0o777)
    settings = _load(
        tmp_path,
        UPLOAD_DIR=str(loose),
        FILE_MAX_SIZE="2",
        WEB_FETCH_FILTER_LIST="example.com, !evil.com",
        WEB_FETCH_RATE_LIMIT="5/3m",
        OUTBOUND_TIMEOUT="1m30s",
    )
    assert settings.files.upload_dir == loose
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert settings.files.file_max_size == 2 * 1024 * 1024
    assert settings.outbound.web_fetch_filter_list == ("example.com", "!evil.com")
    assert settings.ratelimit.web_fetch_rate_limit == RateLimit(5, 180.0)
    assert settings.outbound.outbound_timeout == 90.0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FILE_MAX_SIZE", "ten"),
        ("FILE_MAX_SIZE", "0"),
        ("ENABLE_LOCAL_WEB_FETCH", "maybe"),
        ("ENABLE_WEB_LOADER_SSL_VERIFICATION", "perhaps"),
        ("WEB_FETCH_RATE_LIMIT", "many/1m"),
        ("WEB_FETCH_RATE_LIMIT", "0/1m"),
        ("WEB_FETCH_RATE_LIMIT", "20"),
        ("OUTBOUND_TIMEOUT", "soon"),
        ("OUTBOUND_CONNECT_TIMEOUT", "0s"),
        ("OUTBOUND_MAX_RESPONSE_SIZE", "huge"),
    ],
)
def test_bad_file_and_outbound_values_stop_the_start(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, **{variable: value})
    assert str(raised.value).startswith(f"{variable}: ")


def test_upload_dir_that_cannot_be_created_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, UPLOAD_DIR=str(blocker / "uploads"))
    assert str(raised.value).startswith("UPLOAD_DIR: ")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SIGNIN_RATE_LIMIT_IP", "5 per minute", "'5 per minute' is not a rate limit"),
        ("API_RATE_LIMIT_USER", "0/1m", "'0/1m' is not a rate limit"),
        ("API_RATE_LIMIT_USER", "\u0665/1m", "'\u0665/1m' is not a rate limit"),  # Arabic 5
        ("REDIS_URL", "http://cache:6379", "the scheme 'http' is not supported"),
        ("REDIS_TIMEOUT", "soon", "'soon' is not a duration"),
        ("SIGNIN_LOCKOUT_THRESHOLD", "101", "101 is out of range"),
    ],
)
def test_bad_limit_and_redis_settings_name_the_variable(
    tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, **{variable: value})
    assert str(raised.value).startswith(f"{variable}: {problem}. Fix: ")


def test_limits_and_redis_settings_are_read(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        REDIS_URL="redis://127.0.0.1:6379/2",
        REDIS_KEY_PREFIX="team-a",
        REDIS_TIMEOUT="100ms",
        SIGNIN_RATE_LIMIT_ACCOUNT_IP="5/3m",
        COSTLY_RATE_LIMIT="10/s",
    )
    assert settings.redis.redis_url == "redis://127.0.0.1:6379/2"
    assert settings.redis.redis_key_prefix == "team-a"
    assert settings.redis.redis_timeout == 0.1
    assert (
        settings.ratelimit.signin_rate_limit_account_ip.amount,
        settings.ratelimit.signin_rate_limit_account_ip.period,
    ) == (5, 180.0)
    assert (
        settings.ratelimit.costly_rate_limit.amount,
        settings.ratelimit.costly_rate_limit.period,
    ) == (10, 1.0)
    # Redis shares revocations: no in-process cache even with one worker on SQLite.
    assert settings.sees_every_write is False
    assert _load(tmp_path).sees_every_write is True


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("!127.0.0.2/33", "'127.0.0.2/33' is not a valid IP address or range"),
        ("!300.1.2.3", "'300.1.2.3' is not a valid IP address or range"),
        ("!fe80::1::2", "'fe80::1::2' is not a valid IP address or range"),
        ("exa mple.com", "'exa mple.com' is neither a domain nor an IP address/range"),
        ("!", "'!' is neither a domain nor an IP address/range"),
    ],
)
def test_a_web_fetch_filter_entry_that_cannot_be_used_stops_the_start(
    tmp_path: Path, entry: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, WEB_FETCH_FILTER_LIST=f"example.com,{entry}")
    assert str(raised.value) == (
        f"WEB_FETCH_FILTER_LIST: {problem}. Fix: give comma-separated domains, IP addresses "
        "or CIDR ranges such as example.com,!evil.example,!10.0.0.0/8."
    )


def test_web_fetch_filter_entries_may_be_domains_addresses_and_ranges(tmp_path: Path) -> None:
    entries = "docs.example.com,!evil.example,!127.0.0.2/32,!10.0.0.0/8,!::1,192.0.2.7"
    settings = _load(tmp_path, WEB_FETCH_FILTER_LIST=entries)
    assert settings.outbound.web_fetch_filter_list == tuple(entries.split(","))


def test_default_permissions_are_open_webuis_with_api_keys_withheld(tmp_path: Path) -> None:
    assert _load(tmp_path).auth.user_permissions == {
        "features.web_fetch",
        "chat.file_upload",
        "chat.share",
    }
    changed = _load(
        tmp_path, USER_PERMISSIONS_FEATURES_API_KEYS="true", USER_PERMISSIONS_CHAT_SHARE="false"
    )
    assert changed.auth.user_permissions == {
        "features.api_keys",
        "features.web_fetch",
        "chat.file_upload",
    }
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, USER_PERMISSIONS_CHAT_SHARE="sometimes")
    assert str(raised.value).startswith("USER_PERMISSIONS_CHAT_SHARE: ")
