"""``bastion audit deps``: the installed (or pinned) packages against known
vulnerabilities, through pip-audit.

pip-audit reports "No known vulnerabilities found" and exits 0 even when it could look
none of the packages up (a mirror without PyPI's JSON API, no network): every one is
then only "skipped". Here a package that could not be looked up is a failure of the
audit, said in words, never a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PIP_AUDIT = "pip-audit==2.10.1"
OWN_PACKAGE = "bastion"
TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class Vulnerability:
    package: str
    version: str
    id: str
    fix_versions: tuple[str, ...]

    def __str__(self) -> str:
        fixed = f"fixed in {', '.join(self.fix_versions)}" if self.fix_versions else "no fix yet"
        return f"{self.package} {self.version}: {self.id} ({fixed})"


@dataclass(frozen=True, slots=True)
class DependencyAudit:
    audited: int
    vulnerabilities: tuple[Vulnerability, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (package, why)

    @property
    def complete(self) -> bool:
        return not self.skipped and self.audited > 0


class AuditUnavailable(Exception):
    """pip-audit could not run or answer; the message says why, in one line."""


def read_report(report: dict[str, Any]) -> DependencyAudit:
    """pip-audit's JSON report (``-f json``), with skipped packages kept apart."""
    audited = 0
    found: list[Vulnerability] = []
    skipped: list[tuple[str, str]] = []
    for dependency in report.get("dependencies", []):
        name = str(dependency.get("name", "?"))
        if name.lower() == OWN_PACKAGE:
            continue  # Bastion itself: not a dependency, and not the PyPI project of its name
        if "skip_reason" in dependency:
            skipped.append((name, str(dependency["skip_reason"])))
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            found.append(
                Vulnerability(
                    name,
                    str(dependency.get("version", "?")),
                    str(vulnerability.get("id", "?")),
                    tuple(str(version) for version in vulnerability.get("fix_versions", [])),
                )
            )
    return DependencyAudit(audited, tuple(found), tuple(skipped))


def audit_dependencies(requirements: Path | None = None) -> DependencyAudit:
    """Run pip-audit on ``requirements``, or on the environment Bastion runs in."""
    command = [sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off"]
    command += ["--skip-editable"] if requirements is None else ["-r", str(requirements)]
    try:
        done = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise AuditUnavailable(f"pip-audit gave no answer within {TIMEOUT_S} s") from None
    if "No module named pip_audit" in done.stderr:
        raise AuditUnavailable(
            f"pip-audit is not installed; install it with: pip install {PIP_AUDIT}"
        )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise AuditUnavailable(f"pip-audit failed: {lines[-1]}") from None
    return read_report(report)
