"""``bastion scan`` against Bastion itself, served over TLS with a certificate from a test
CA: the shipped defaults earn an A+, a weakened configuration loses exactly what each
weakness costs."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from bastion.app import create_app
from bastion.checks.scan import ScanFailed, ScanReport, certificate, old_tls, scan
from bastion.cli import main
from bastion.config import load_settings
from bastion.services import Services
from tests.fake_upstreams import serve
from tests.support import CountingHasher
from tests.web_servers import WebServer, redirect_to

WEAKENED = {
    "HSTS": "max-age=3600",
    "CONTENT_SECURITY_POLICY": "default-src 'self'; script-src 'self' 'unsafe-inline'",
    "XFRAME_OPTIONS": "",
    "REFERRER_POLICY": "unsafe-url",
    "CORS_ALLOW_ORIGIN": "https://attacker.example",
    "ENABLE_API_DOCS": "true",
}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, tuple[str, str]]:
    authority = trustme.CA()
    root = tmp_path_factory.mktemp("tls")
    bundle, chain, key = root / "ca.pem", root / "chain.pem", root / "key.pem"
    authority.cert_pem.write_to_path(str(bundle))
    issued = authority.issue_cert("127.0.0.1")
    issued.private_key_and_cert_chain_pem.write_to_path(str(chain))
    issued.private_key_pem.write_to_path(str(key))
    return authority, bundle, (str(chain), str(key))


def _served(tmp: Path, tls: tuple[str, str], env: dict[str, str]) -> Iterator[str]:
    settings = load_settings({"DATA_DIR": str(tmp), **env})
    services = Services.build(settings, hasher=CountingHasher())
    with serve(create_app(settings, services=services), lifespan="on", tls=tls) as url:
        yield url


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, ca) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from _served(tmp_path_factory.mktemp("good"), ca[2], {})


@pytest.fixture(scope="module")
def weak(tmp_path_factory: pytest.TempPathFactory, ca) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from _served(tmp_path_factory.mktemp("weak"), ca[2], WEAKENED)


def _deductions(report: ScanReport) -> dict[str, int]:
    return {finding.test: finding.deduction for finding in report.findings if finding.deduction}


async def test_the_defaults_score_a_plus(good: str, ca) -> None:  # type: ignore[no-untyped-def]
    redirector = await WebServer(redirect_to(good + "/", 301)).start()
    try:
        report = await scan(good, http_url=redirector.origin, ca_file=str(ca[1]))
    finally:
        await redirector.stop()
    assert _deductions(report) == {}
    assert (report.score, report.grade) == (100, "A+")
    found = {finding.test: finding.reason for finding in report.findings}
    assert found["redirection"] == "http:// redirects to https:// on the same host"
    assert found["strict-transport-security"].startswith("max-age=")


async def test_each_weakness_costs_what_it_should(weak: str, ca) -> None:  # type: ignore[no-untyped-def]
    report = await scan(weak, ca_file=str(ca[1]))
    assert _deductions(report) == {
        "strict-transport-security": 10,
        "content-security-policy": 20,
        "x-frame-options": 20,
        "referrer-policy": 5,
        "cross-origin-resource-sharing": 50,
        "api-documentation": 5,
    }
    assert (report.score, report.grade) == (0, "F")
    reasons = {finding.test: finding.reason for finding in report.findings}
    assert (
        reasons["cross-origin-resource-sharing"] == "a hostile Origin is reflected with credentials"
    )
    assert reasons["redirection"].endswith("not tested")


async def test_a_plain_http_answer_instead_of_a_redirect_is_a_deduction(
    good: str,
    ca,  # type: ignore[no-untyped-def]
) -> None:
    from tests.web_servers import page

    plain = await WebServer(page(b"hello")).start()
    try:
        report = await scan(good, http_url=plain.origin, ca_file=str(ca[1]))
    finally:
        await plain.stop()
    assert _deductions(report) == {"redirection": 20}
    assert report.grade == "B+"


async def test_a_certificate_from_an_unknown_ca_fails_the_scan(good: str) -> None:
    with pytest.raises(ScanFailed) as failed:
        await scan(good)
    assert "could not be fetched" in str(failed.value)


def test_the_command_prints_the_grade_and_exits_by_the_minimum(
    good: str,
    ca,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    assert main(["scan", good, "--ca-file", str(ca[1])]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"bastion scan {good}: 100/100, grade A+"
    assert main(["scan", "http://127.0.0.1:1/"]) == 1
    assert "is not an https:// URL" in capsys.readouterr().err


def test_old_tls_and_a_short_lived_certificate_are_deductions() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert old_tls({"TLS 1.0": True, "TLS 1.1": False}).deduction == 20
    assert old_tls({"TLS 1.0": False, "TLS 1.1": False}).deduction == 0
    assert old_tls({"TLS 1.0": None, "TLS 1.1": None}).reason.startswith("this machine")
    assert certificate(now + timedelta(days=10), now).deduction == 10
    assert certificate(now - timedelta(days=1), now).deduction == 100
    assert certificate(now + timedelta(days=90), now).deduction == 0
    assert ssl.HAS_TLSv1_2
