"""``bastion audit deps``: pip-audit's report read without trusting its summary, and the
exit code for each outcome; a package that could not be looked up is never a pass."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bastion import cli
from bastion.checks import dependencies
from bastion.checks.dependencies import DependencyAudit, Vulnerability, read_report

REPORT = {
    "dependencies": [
        {"name": "bastion", "skip_reason": "Dependency not found on PyPI"},
        {"name": "idna", "version": "3.20", "vulns": []},
        {
            "name": "h11",
            "version": "0.14.0",
            "vulns": [
                {"id": "GHSA-vqfr-h8mv-ghfj", "fix_versions": ["0.16.0"], "aliases": []},
                {"id": "PYSEC-0000-1", "fix_versions": [], "aliases": []},
            ],
        },
        {"name": "anyio", "skip_reason": "Dependency not found on PyPI: anyio (4.16.0)"},
    ],
    "fixes": [],
}


def test_vulnerabilities_and_skipped_packages_are_read_apart() -> None:
    audit = read_report(REPORT)
    assert audit.audited == 2  # idna and h11; Bastion itself is not a dependency
    assert audit.vulnerabilities == (
        Vulnerability("h11", "0.14.0", "GHSA-vqfr-h8mv-ghfj", ("0.16.0",)),
        Vulnerability("h11", "0.14.0", "PYSEC-0000-1", ()),
    )
    assert audit.skipped == (("anyio", "Dependency not found on PyPI: anyio (4.16.0)"),)
    assert not audit.complete
    assert str(audit.vulnerabilities[0]) == "h11 0.14.0: GHSA-vqfr-h8mv-ghfj (fixed in 0.16.0)"
    assert str(audit.vulnerabilities[1]) == "h11 0.14.0: PYSEC-0000-1 (no fix yet)"


def test_an_empty_report_audited_nothing_and_is_not_complete() -> None:
    assert not read_report({"dependencies": []}).complete


@pytest.mark.parametrize(
    ("audit", "code", "out", "err"),
    [
        (DependencyAudit(3), 0, "bastion audit deps: no known vulnerabilities in 3 packages\n", ""),
        (
            DependencyAudit(3, (Vulnerability("h11", "0.14.0", "GHSA-x", ("0.16.0",)),)),
            1,
            "h11 0.14.0: GHSA-x (fixed in 0.16.0)\n"
            "bastion audit deps: 1 known vulnerabilities in 1 of 3 packages\n",
            "",
        ),
        (
            DependencyAudit(2, skipped=(("anyio", "not found"),)),
            2,
            "",
            "bastion audit deps: 1 of 3 packages could not be looked up in the vulnerability "
            "database (first: anyio: not found); this is not a pass\n",
        ),
    ],
)
def test_exit_codes_say_clean_vulnerable_or_not_audited(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    audit: DependencyAudit,
    code: int,
    out: str,
    err: str,
) -> None:
    monkeypatch.setattr(dependencies, "audit_dependencies", lambda requirements: audit)
    assert cli.main(["audit", "deps"]) == code
    assert capsys.readouterr() == (out, err)


def test_without_pip_audit_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # An interpreter whose path has no pip_audit: a venv without packages.
    bare = tmp_path / "python"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    bare.chmod(0o700)
    monkeypatch.setattr(dependencies.sys, "executable", str(bare))
    assert cli.main(["audit", "deps"]) == 2
    assert capsys.readouterr().err == (
        "bastion audit deps: pip-audit is not installed; install it with: "
        "pip install pip-audit==2.10.1\n"
    )


def test_the_real_pip_audit_here_cannot_look_packages_up_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # This kind of machine reaches PyPI's packages through a mirror without its JSON API:
    # pip-audit itself calls that "No known vulnerabilities found" and exits 0.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.20\n")
    assert cli.main(["audit", "deps", "--requirements", str(requirements)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bastion audit deps: 1 of 1 packages could not be looked up")
    assert err.endswith("; this is not a pass\n")
