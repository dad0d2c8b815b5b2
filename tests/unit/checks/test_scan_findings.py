"""What ``bastion scan`` makes of each answer a deployment can give: every weakness costs
its points and is named, and a sound answer costs none."""

from __future__ import annotations

import httpx
import pytest

from bastion.checks.scan import (
    HOSTILE_ORIGIN,
    Finding,
    ScanReport,
    banner,
    content_security_policy,
    content_type_options,
    cookies,
    cross_origin,
    framing,
    redirection,
    referrer_policy,
    strict_transport_security,
)

SITE = "https://chat.example.com/"


def _headers(**values: str) -> httpx.Headers:
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


def _redirect(status: int, location: str | None) -> httpx.Response:
    headers = {} if location is None else {"location": location}
    return httpx.Response(
        status, headers=headers, request=httpx.Request("GET", "http://chat.example.com/")
    )


@pytest.mark.parametrize(
    ("answer", "deduction", "reason"),
    [
        (None, 0, "not tested"),
        (_redirect(200, None), 20, "answers 200 instead of redirecting"),
        (_redirect(301, None), 20, "answers 301 instead of redirecting"),
        (_redirect(301, "http://chat.example.com/"), 20, "redirects to http://chat.example.com"),
        (
            _redirect(302, "https://elsewhere.example/"),
            20,
            "redirects to https://elsewhere.example",
        ),
        (_redirect(308, "https://chat.example.com/"), 0, "redirects to https://"),
    ],
)
def test_redirection(answer: httpx.Response | None, deduction: int, reason: str) -> None:
    found = redirection(answer, SITE)
    assert found.deduction == deduction and reason in found.reason


@pytest.mark.parametrize(
    ("value", "deduction", "reason"),
    [
        (None, 20, "no Strict-Transport-Security"),
        ("max-age=3600", 10, "max-age=3600 is under six months"),
        ("includeSubDomains", 10, "max-age=0 is under six months"),
        ('max-age="31536000"; includeSubDomains', 0, "max-age=31536000"),
    ],
)
def test_strict_transport_security(value: str | None, deduction: int, reason: str) -> None:
    headers = httpx.Headers({} if value is None else {"strict-transport-security": value})
    found = strict_transport_security(headers)
    assert found.deduction == deduction and reason in found.reason


@pytest.mark.parametrize(
    ("policy", "deduction", "reason"),
    [
        (None, 25, "no Content-Security-Policy"),
        ("img-src 'self'", 25, "any script may run"),
        ("script-src 'self' 'unsafe-inline'", 20, "'unsafe-inline'"),
        ("default-src 'self' 'unsafe-inline' 'nonce-abc' 'unsafe-eval'", 10, "'unsafe-eval'"),
        ("script-src 'self' https:", 15, "from any host"),
        ("script-src *", 15, "from any host"),
        ("default-src 'self'; style-src 'self' 'unsafe-inline'", 5, "style-src"),
        ("default-src 'self'; script-src 'self' 'sha256-abc' 'unsafe-inline'", 0, "site itself"),
    ],
)
def test_content_security_policy(policy: str | None, deduction: int, reason: str) -> None:
    headers = httpx.Headers({} if policy is None else {"content-security-policy": policy})
    found = content_security_policy(headers)
    assert found.deduction == deduction and reason in found.reason


@pytest.mark.parametrize(
    ("headers", "deduction"),
    [
        (_headers(content_security_policy="frame-ancestors 'none'"), 0),
        (_headers(content_security_policy="frame-ancestors 'self'"), 0),
        (_headers(content_security_policy="frame-ancestors https:", x_frame_options="deny"), 0),
        (_headers(content_security_policy="frame-ancestors https:"), 20),
        (_headers(x_frame_options="ALLOW-FROM https://x.example"), 20),
        (_headers(), 20),
    ],
)
def test_framing(headers: httpx.Headers, deduction: int) -> None:
    assert framing(headers).deduction == deduction


def test_content_type_options_and_referrer_policy() -> None:
    assert content_type_options(_headers(x_content_type_options=" NoSniff ")).deduction == 0
    assert content_type_options(_headers()).deduction == 5
    assert referrer_policy(_headers()).deduction == 5
    leaky = referrer_policy(_headers(referrer_policy="no-referrer, unsafe-url"))
    assert leaky.deduction == 5 and "unsafe-url" in leaky.reason  # the last one wins
    assert referrer_policy(_headers(referrer_policy="unsafe-url, strict-origin")).deduction == 0


def test_cookies_cost_the_worst_of_their_problems() -> None:
    assert cookies([]).deduction == 0
    sound = cookies(["token=x; Secure; HttpOnly; SameSite=Lax; Path=/"])
    assert sound.deduction == 0 and "token" in sound.reason
    script = cookies(["token=x; Secure; SameSite=Strict"])
    assert script.deduction == 10 and "no HttpOnly" in script.reason
    cross = cookies(["token=x; Secure; HttpOnly; SameSite=None"])
    assert cross.deduction == 5 and "SameSite=none" in cross.reason
    plain = cookies(["token=x; HttpOnly", "theme=dark; Secure; HttpOnly"])
    assert plain.deduction == 20 and "token is not Secure" in plain.reason
    assert "SameSite=unset" in plain.reason


@pytest.mark.parametrize(
    ("headers", "deduction", "reason"),
    [
        ({}, 0, "no access"),
        ({"access-control-allow-origin": HOSTILE_ORIGIN}, 20, "reflected"),
        (
            {
                "access-control-allow-origin": HOSTILE_ORIGIN,
                "access-control-allow-credentials": "true",
            },
            50,
            "reflected with credentials",
        ),
        (
            {"access-control-allow-origin": "*", "access-control-allow-credentials": "true"},
            50,
            "* with credentials",
        ),
        ({"access-control-allow-origin": "*"}, 0, "no access"),
    ],
)
def test_cross_origin(headers: dict[str, str], deduction: int, reason: str) -> None:
    found = cross_origin(httpx.Response(200, headers=headers))
    assert found.deduction == deduction and reason in found.reason


def test_a_version_banner_is_named() -> None:
    assert banner(_headers(server="uvicorn")).deduction == 0
    told = banner(_headers(server="nginx/1.22.1", x_powered_by="Express"))
    assert told.deduction == 5
    assert "server: nginx/1.22.1" in told.reason and "x-powered-by: Express" in told.reason


def test_the_score_never_falls_below_zero_and_sets_the_grade() -> None:
    findings = tuple(Finding(f"t{i}", 30, "bad") for i in range(4))
    report = ScanReport(SITE, findings)
    assert (report.score, report.grade) == (0, "F")
    assert report.as_dict()["findings"][0] == {"test": "t0", "deduction": 30, "reason": "bad"}
    assert report.lines()[0] == " -30  t0: bad"
    assert report.lines()[-1] == f"bastion scan {SITE}: 0/100, grade F"
