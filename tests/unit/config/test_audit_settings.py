"""The ``AUDIT_*`` settings: defaults, accepted values and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import SettingsError, load_settings


def test_audit_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    assert settings.audit.audit_log_level == "METADATA"
    assert settings.audit.audit_logs_file_path == tmp_path / "audit.log"
    assert settings.audit.audit_log_file_rotation_size == 10_000_000
    assert settings.audit.audit_log_file_retention == 10
    assert settings.audit.audit_included_paths == settings.audit.audit_excluded_paths == ()
    assert settings.audit.max_body_log_size == 2048
    assert (settings.audit.enable_audit_stdout, settings.audit.enable_audit_logs_file) == (
        False,
        True,
    )
    assert settings.audit.enable_audit_get_requests is False
    assert settings.audit.audit_webhook_url is None


def test_audit_values_are_read(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "AUDIT_LOG_LEVEL": "request_response",
            "AUDIT_LOGS_FILE_PATH": str(tmp_path / "logs" / "a.log"),
            "AUDIT_LOG_FILE_ROTATION_SIZE": "64KiB",
            "AUDIT_LOG_FILE_RETENTION": "3",
            "AUDIT_EXCLUDED_PATHS": "chats, /api/v1/files",
            "AUDIT_WEBHOOK_URL": "https://siem.example.com/hook",
        }
    )
    assert settings.audit.audit_log_level == "REQUEST_RESPONSE"
    assert settings.audit.audit_logs_file_path == tmp_path / "logs" / "a.log"
    assert settings.audit.audit_log_file_rotation_size == 65536
    assert settings.audit.audit_log_file_retention == 3
    assert settings.audit.audit_excluded_paths == ("chats", "/api/v1/files")
    assert settings.audit.audit_webhook_url == "https://siem.example.com/hook"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AUDIT_LOG_LEVEL", "VERBOSE", "AUDIT_LOG_LEVEL: 'VERBOSE' is not one of"),
        ("AUDIT_LOG_FILE_ROTATION_SIZE", "lots", "AUDIT_LOG_FILE_ROTATION_SIZE: 'lots' is not"),
        ("AUDIT_LOG_FILE_RETENTION", "-1", "AUDIT_LOG_FILE_RETENTION: -1 is out of range"),
        ("MAX_BODY_LOG_SIZE", "big", "MAX_BODY_LOG_SIZE: 'big' is not a whole number"),
        ("AUDIT_WEBHOOK_URL", "http://siem.example.com/", "AUDIT_WEBHOOK_URL: 'http://siem"),
        ("AUDIT_WEBHOOK_URL", "ftp://127.0.0.1/", "AUDIT_WEBHOOK_URL: 'ftp://"),
    ],
)
def test_bad_audit_values_stop_the_start(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"DATA_DIR": str(tmp_path), name: value})
    assert str(raised.value).startswith(message)


def test_plain_http_webhook_only_to_loopback(tmp_path: Path) -> None:
    settings = load_settings(
        {"DATA_DIR": str(tmp_path), "AUDIT_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    )
    assert settings.audit.audit_webhook_url == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("", None),
        ("/dev/log", "/dev/log"),
        ("127.0.0.1:514", ("127.0.0.1", 514)),
        ("[::1]:5514", ("::1", 5514)),
        ("syslog.internal:514", ("syslog.internal", 514)),
    ],
)
def test_syslog_address_is_a_socket_path_or_host_and_port(
    tmp_path: Path, value: str, address: object
) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "AUDIT_SYSLOG_ADDRESS": value})
    assert settings.audit.audit_syslog_address == address


@pytest.mark.parametrize(
    "value",
    [
        "syslog.internal",
        "127.0.0.1:0",
        ":514",
        "host:70000",
        "a:b",
        "host:\u00b2",
        "host:\u0665\u0661\u0664",
    ],
)
def test_a_syslog_address_that_is_neither_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"DATA_DIR": str(tmp_path), "AUDIT_SYSLOG_ADDRESS": value})
    assert str(raised.value) == (
        f"AUDIT_SYSLOG_ADDRESS: {value!r} is neither host:port nor a socket path. Fix: use "
        "host:port for UDP (127.0.0.1:514) or the path of a unix socket (/dev/log)."
    )
