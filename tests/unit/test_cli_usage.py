"""The ``bastion`` command's refusals: each one line on standard error naming the problem
and the fix, with exit 2 for what the command line or configuration got wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.cli import EXIT_CONFIG, main

KEY = "k" * 43


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEBUI_SECRET_KEY", KEY)


@pytest.mark.parametrize(
    ("score", "problem"),
    [("high", "'high' is not a whole number"), ("101", "101 is out of range, use 0 to 100")],
)
def test_a_min_score_that_is_no_score_is_a_usage_error(
    score: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["scan", "https://chat.example.com", "--min-score", score])
    assert exited.value.code == 2
    assert problem in capsys.readouterr().err


def test_a_ca_file_that_is_not_there_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ca.pem"
    assert main(["scan", "https://chat.example.com", "--ca-file", str(missing)]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        f"bastion scan: {missing} is not a file; give the CA bundle's path\n"
    )


def test_an_audit_log_that_cannot_be_read_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "audit.log"
    assert main(["audit", "verify", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bastion: cannot read ") and str(missing) in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the password file"),
        (b"\n", "the password is empty"),
        (b"\xff\xfe", "cannot read the password file"),
    ],
)
def test_create_admin_names_a_password_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, problem: str
) -> None:
    source = tmp_path / "password"
    if content is not None:
        source.write_bytes(content)
    code = main(["create-admin", "--email", "a@example.com", "--password-file", str(source)])
    assert code == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"bastion: {problem}") and err.count("\n") == 1


def test_create_admin_without_a_terminal_says_how_to_give_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["create-admin", "--email", "a@example.com"]) == EXIT_CONFIG
    assert "use --password-file PATH or --password-stdin" in capsys.readouterr().err
