"""``bastion check``: exit codes by the fail level, the JSON report, the checks that only
``--deploy`` adds, and the shipped deployment settings passing every check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bastion.checks import Target, run_checks
from bastion.cli import main
from bastion.config import load_settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
KEY = "k" * 43


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("WEBUI_SECRET_KEY", "WORKERS", "REDIS_URL", "CORS_ALLOW_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEBUI_SECRET_KEY", KEY)
    return monkeypatch


def test_warnings_fail_only_at_the_warning_level(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("CORS_ALLOW_ORIGIN", "*")
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "bastion.W030 (warning): CORS_ALLOW_ORIGIN=*: any site may read Bastion's answers. "
        "Fix: list your front-end origins in CORS_ALLOW_ORIGIN, such as "
        "https://chat.example.com.",
        "bastion check: 0 error(s), 1 warning(s)",
    ]
    assert main(["check", "--fail-level", "warning"]) == 1


def test_an_error_fails_the_default_level(env: pytest.MonkeyPatch) -> None:
    env.setenv("WORKERS", "2")
    assert main(["check"]) == 1


def test_json_lists_every_message_for_pipelines(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("WORKERS", "2")
    assert main(["check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [message["id"] for message in report["messages"]] == ["bastion.E060", "bastion.W062"]
    assert report["messages"][0]["level"] == "error"
    assert report["messages"][0]["hint"] == "set REDIS_URL, or WORKERS=1"
    assert (report["deploy"], report["fail_level"], report["failed"]) == (False, "error", True)


def test_deploy_adds_the_production_checks(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == []
    assert main(["check", "--deploy", "--json"]) == 0
    ids = [message["id"] for message in json.loads(capsys.readouterr().out)["messages"]]
    assert ids == ["bastion.W011", "bastion.W011", "bastion.W061"]


def test_a_bad_setting_is_one_line_and_exit_2(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("JWT_EXPIRES_IN", "soon")
    assert main(["check"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("bastion: JWT_EXPIRES_IN: ")


def test_the_admin_password_left_in_the_environment_is_found_in_the_database(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env.setenv("WEBUI_ADMIN_EMAIL", "admin@example.com")
    env.setenv("WEBUI_ADMIN_PASSWORD", "a long passphrase for the admin")
    assert main(["check", "--json"]) == 0  # no database yet: the admin is still to create
    assert json.loads(capsys.readouterr().out)["messages"] == []
    password_file = tmp_path / "password"
    password_file.write_text("a long passphrase for the admin\n")
    # Any start creates the administrator from WEBUI_ADMIN_EMAIL first.
    create = ["create-admin", "--email", "ops@example.com", "--password-file"]
    assert main([*create, str(password_file)]) == 0
    capsys.readouterr()
    assert main(["check", "--json"]) == 0
    ids = [message["id"] for message in json.loads(capsys.readouterr().out)["messages"]]
    assert ids == ["bastion.W042"]


def _shipped_environment(tmp_path: Path) -> dict[str, str]:
    """What compose gives a Bastion container: .env (from .env.example, its secrets
    filled in) with ${VAR} interpolated, then the service's own environment."""
    values: dict[str, str] = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    values |= {"WEBUI_SECRET_KEY": KEY, "REDIS_PASSWORD": "r" * 32, "POSTGRES_PASSWORD": "p" * 32}
    values = {
        name: re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], value)
        for name, value in values.items()
    }
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return {**values, **compose["x-bastion"]["environment"], "DATA_DIR": str(tmp_path)}


def test_the_shipped_deployment_settings_pass_every_check(tmp_path: Path) -> None:
    settings = load_settings(_shipped_environment(tmp_path))
    assert settings.server.workers == 2 and settings.redis.redis_url is not None
    assert run_checks(Target(settings, accounts_exist=True), deploy=True) == []
