"""One test per deployment check: the exact messages for a bad configuration, none for a
good one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.checks import Level, Message, Target, deployment
from bastion.checks.registry import Check
from bastion.config import load_settings

KEY = "k" * 43


def _run(check: Check, tmp_path: Path, **env: str) -> list[Message]:
    settings = load_settings({"DATA_DIR": str(tmp_path / "data"), "WEBUI_SECRET_KEY": KEY, **env})
    return list(check(Target(settings)))


def _ids(messages: list[Message]) -> list[str]:
    return [message.id for message in messages]


def test_audit_level_none_and_file_off(tmp_path: Path) -> None:
    assert _ids(_run(deployment.check_audit_log, tmp_path, AUDIT_LOG_LEVEL="none")) == [
        "bastion.W050"
    ]
    [off] = _run(deployment.check_audit_log, tmp_path, ENABLE_AUDIT_LOGS_FILE="false")
    assert (off.id, off.hint) == ("bastion.W051", "set ENABLE_AUDIT_LOGS_FILE=true")
    assert _run(deployment.check_audit_log, tmp_path) == []


def test_audit_log_readable_by_others(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    os.chmod(logs, 0o755)  # noqa: S103 (the mode under test)
    path = logs / "audit.log"
    path.write_text("")
    os.chmod(path, 0o644)
    found = _run(deployment.check_audit_log, tmp_path, AUDIT_LOGS_FILE_PATH=str(path))
    assert [(m.id, m.problem, m.hint) for m in found] == [
        (
            "bastion.W052",
            f"the audit log {path} can be read by other users",
            f"run chmod 600 {path}",
        ),
        (
            "bastion.W052",
            f"the audit log {logs} can be read by other users",
            f"run chmod 700 {logs}",
        ),
    ]
    os.chmod(path, 0o600)
    os.chmod(logs, 0o700)
    assert _run(deployment.check_audit_log, tmp_path, AUDIT_LOGS_FILE_PATH=str(path)) == []


def test_rotation_without_retention(tmp_path: Path) -> None:
    assert _ids(_run(deployment.check_audit_log, tmp_path, AUDIT_LOG_FILE_RETENTION="0")) == [
        "bastion.W053"
    ]
    assert _run(deployment.check_audit_log, tmp_path, AUDIT_LOG_FILE_RETENTION="3") == []


def test_several_workers_without_redis_and_on_sqlite(tmp_path: Path) -> None:
    found = _run(deployment.check_workers_share_state, tmp_path, WORKERS="4")
    assert [(m.id, m.level, m.problem) for m in found] == [
        (
            "bastion.E060",
            Level.ERROR,
            "WORKERS=4 without REDIS_URL: each worker counts rate limits and lockouts on its "
            "own, so a limit of N lets up to 4*N through",
        ),
        ("bastion.W062", Level.WARNING, "WORKERS=4 on SQLite: writers queue for one file lock"),
    ]
    shared = {
        "WORKERS": "4",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DATABASE_URL": "postgresql://bastion@db/bastion",
    }
    assert _run(deployment.check_workers_share_state, tmp_path, **shared) == []
    assert _run(deployment.check_workers_share_state, tmp_path) == []


def test_one_instance_without_redis_is_a_deploy_warning(tmp_path: Path) -> None:
    assert _ids(_run(deployment.check_instances_share_state, tmp_path)) == ["bastion.W061"]
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert _run(deployment.check_instances_share_state, tmp_path, **redis) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache.internal:6379/0", ["bastion.W063"]),
        ("rediss://cache.internal:6380/0", ["bastion.W063"]),
        ("redis://:s3cret@cache.internal:6379/0", []),
        ("rediss://:s3cret@cache.internal:6380/0", []),
        ("redis://127.0.0.1:6379/0", []),
        ("unix:///run/redis.sock", []),
    ],
)
def test_redis_on_another_host_without_a_password(
    tmp_path: Path, url: str, expected: list[str]
) -> None:
    assert _ids(_run(deployment.check_redis_credentials, tmp_path, REDIS_URL=url)) == expected


def test_database_and_data_directories_readable_by_others(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path / "data"), "WEBUI_SECRET_KEY": KEY})
    database = settings.server.data_dir / "bastion.db"
    database.write_bytes(b"")
    os.chmod(database, 0o600)
    assert list(deployment.check_data_permissions(Target(settings))) == []
    os.chmod(database, 0o644)
    os.chmod(settings.files.upload_dir, 0o755)  # noqa: S103 (the mode under test)
    found = list(deployment.check_data_permissions(Target(settings)))
    assert [(m.id, m.problem) for m in found] == [
        ("bastion.W064", f"the database {database} can be read by other users"),
        ("bastion.W065", f"UPLOAD_DIR {settings.files.upload_dir} can be read by other users"),
    ]


def test_web_fetch_without_tls_verification_or_to_local_addresses(tmp_path: Path) -> None:
    found = _run(
        deployment.check_web_fetch,
        tmp_path,
        ENABLE_WEB_LOADER_SSL_VERIFICATION="false",
        ENABLE_LOCAL_WEB_FETCH="true",
    )
    assert _ids(found) == ["bastion.W070", "bastion.W071"]
    assert _run(deployment.check_web_fetch, tmp_path) == []


def test_upstreams_over_plain_http_to_another_host(tmp_path: Path) -> None:
    found = _run(
        deployment.check_upstreams_over_tls,
        tmp_path,
        OLLAMA_BASE_URLS="http://127.0.0.1:11434;http://gpu.internal:11434",
        OPENAI_API_BASE_URLS="https://api.example.com/v1",
    )
    assert [(m.id, m.problem) for m in found] == [
        ("bastion.W072", "OLLAMA_BASE_URLS sends prompts and keys over plain http to gpu.internal")
    ]
    assert (
        _run(deployment.check_upstreams_over_tls, tmp_path, OLLAMA_BASE_URLS="http://localhost:1")
        == []
    )


def test_api_docs_on(tmp_path: Path) -> None:
    assert _ids(_run(deployment.check_api_docs, tmp_path, ENABLE_API_DOCS="true")) == [
        "bastion.W080"
    ]
    assert _run(deployment.check_api_docs, tmp_path) == []
