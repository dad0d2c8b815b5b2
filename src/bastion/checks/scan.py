"""``bastion scan URL``: a running deployment graded from outside.

Modelled on Mozilla's HTTP Observatory: every test starts from 100 points and takes off
what a weakness costs, the letter grade follows the Observatory's bands (A+ at 100 down to
F under 25), and each deduction comes with its reason. Beyond the Observatory's tests it
looks at what matters for Bastion: a hostile ``Origin`` reflected by CORS, ``/docs`` and
``/openapi.json`` left open, a version banner, TLS 1.0/1.1 still offered, and the
certificate's expiry.

Every request goes through the safe outbound client with exactly the scanned origin (and
its plain-HTTP twin) allowed; certificates are verified, against ``ca_file`` when given.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any

import httpx

from bastion.errors import BastionError
from bastion.outbound import OutboundClient, OutboundTimeouts
from bastion.outbound.pinning import system_resolver
from bastion.outbound.policy import AddressPolicy

HOSTILE_ORIGIN = "https://attacker.example"
SIX_MONTHS = 15_552_000
# Mozilla HTTP Observatory's bands: the lowest score of each grade.
GRADES = (
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
)


class ScanFailed(Exception):
    """The target could not be scanned at all; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Finding:
    test: str
    deduction: int  # points taken off; 0 when the test passed
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"test": self.test, "deduction": self.deduction, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ScanReport:
    url: str
    findings: tuple[Finding, ...]

    @property
    def score(self) -> int:
        return max(0, 100 - sum(finding.deduction for finding in self.findings))

    @property
    def grade(self) -> str:
        return next(grade for floor, grade in GRADES if self.score >= floor)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "score": self.score,
            "grade": self.grade,
            "findings": [finding.as_dict() for finding in self.findings],
        }

    def lines(self) -> list[str]:
        shown = [
            f"{'-' + str(f.deduction) if f.deduction else 'ok':>4}  {f.test}: {f.reason}"
            for f in self.findings
        ]
        return [*shown, f"bastion scan {self.url}: {self.score}/100, grade {self.grade}"]


# --- the tests, each over what the scan fetched -----------------------------------------


def redirection(answer: httpx.Response | None, https_url: str) -> Finding:
    test = "redirection"
    if answer is None:
        return Finding(test, 0, "no plain-HTTP address given or reachable; not tested")
    location = answer.headers.get("location", "")
    if answer.status_code not in (301, 302, 307, 308) or not location:
        return Finding(test, 20, f"http:// answers {answer.status_code} instead of redirecting")
    target = httpx.URL(answer.url).join(location)
    if target.scheme != "https" or target.host != httpx.URL(https_url).host:
        return Finding(test, 20, f"http:// redirects to {target.scheme}://{target.host}, not here")
    return Finding(test, 0, "http:// redirects to https:// on the same host")


def strict_transport_security(headers: httpx.Headers) -> Finding:
    test = "strict-transport-security"
    value = headers.get("strict-transport-security")
    if value is None:
        return Finding(test, 20, "no Strict-Transport-Security header")
    matched = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
    age = int(matched[1]) if matched else 0
    if age < SIX_MONTHS:
        return Finding(test, 10, f"max-age={age} is under six months ({SIX_MONTHS} s)")
    return Finding(test, 0, f"max-age={age}")


def content_security_policy(headers: httpx.Headers) -> Finding:
    test = "content-security-policy"
    policy = headers.get("content-security-policy")
    if policy is None:
        return Finding(test, 25, "no Content-Security-Policy header")
    directives = _directives(policy)
    scripts = directives.get("script-src", directives.get("default-src"))
    if scripts is None:
        return Finding(test, 25, "neither script-src nor default-src: any script may run")
    if "'unsafe-inline'" in scripts and not any(s.startswith(("'nonce-", "'sha")) for s in scripts):
        return Finding(test, 20, "script-src allows 'unsafe-inline': injected markup runs")
    if "'unsafe-eval'" in scripts:
        return Finding(test, 10, "script-src allows 'unsafe-eval'")
    if any(source in ("*", "http:", "https:", "data:") for source in scripts):
        return Finding(test, 15, "script-src allows scripts from any host")
    if "'unsafe-inline'" in directives.get("style-src", directives.get("default-src", [])):
        return Finding(test, 5, "style-src allows 'unsafe-inline'")
    return Finding(test, 0, "scripts only from the site itself")


def framing(headers: httpx.Headers) -> Finding:
    test = "x-frame-options"
    ancestors = _directives(headers.get("content-security-policy", "")).get("frame-ancestors")
    if ancestors is not None and ancestors in (["'none'"], ["'self'"]):
        return Finding(test, 0, f"frame-ancestors {ancestors[0]}")
    option = headers.get("x-frame-options", "").strip().upper()
    if option in ("DENY", "SAMEORIGIN"):
        return Finding(test, 0, f"X-Frame-Options {option}")
    return Finding(test, 20, "neither frame-ancestors nor X-Frame-Options: clickjacking")


def content_type_options(headers: httpx.Headers) -> Finding:
    test = "x-content-type-options"
    if headers.get("x-content-type-options", "").strip().lower() == "nosniff":
        return Finding(test, 0, "nosniff")
    return Finding(test, 5, "no X-Content-Type-Options: nosniff")


def referrer_policy(headers: httpx.Headers) -> Finding:
    test = "referrer-policy"
    values = [v.strip().lower() for v in headers.get("referrer-policy", "").split(",") if v]
    if not values:
        return Finding(test, 5, "no Referrer-Policy: URLs leak to other sites")
    if values[-1] in ("unsafe-url", "no-referrer-when-downgrade", "origin-when-cross-origin"):
        return Finding(test, 5, f"Referrer-Policy {values[-1]} sends paths to other sites")
    return Finding(test, 0, values[-1])


def cookies(set_cookies: Iterable[str]) -> Finding:
    test = "cookies"
    problems: list[tuple[int, str]] = []
    names = []
    for header in set_cookies:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            names.append(name)
            if not morsel["secure"]:
                problems.append((20, f"{name} is not Secure"))
            if not morsel["httponly"]:
                problems.append((10, f"{name} is readable by script (no HttpOnly)"))
            same_site = str(morsel["samesite"]).lower()
            if same_site in ("", "none"):
                problems.append((5, f"{name} is sent cross-site (SameSite={same_site or 'unset'})"))
    if not names:
        return Finding(test, 0, "no cookie set by the pages scanned")
    if problems:
        return Finding(test, max(p[0] for p in problems), "; ".join(p[1] for p in problems))
    return Finding(test, 0, f"{', '.join(sorted(set(names)))}: Secure, HttpOnly, SameSite")


def cross_origin(answer: httpx.Response) -> Finding:
    test = "cross-origin-resource-sharing"
    allowed = answer.headers.get("access-control-allow-origin")
    credentials = answer.headers.get("access-control-allow-credentials", "").lower() == "true"
    if allowed == HOSTILE_ORIGIN:
        cost = 50 if credentials else 20
        with_what = " with credentials" if credentials else ""
        return Finding(test, cost, f"a hostile Origin is reflected{with_what}")
    if allowed == "*" and credentials:
        return Finding(test, 50, "Access-Control-Allow-Origin * with credentials")
    return Finding(test, 0, "a hostile Origin gets no access")


def api_documentation(answers: dict[str, int]) -> Finding:
    test = "api-documentation"
    open_paths = [path for path, status in answers.items() if status == 200]
    if open_paths:
        return Finding(test, 5, f"{' and '.join(open_paths)} answer 200: the API maps itself")
    return Finding(test, 0, "/docs and /openapi.json are closed")


def banner(headers: httpx.Headers) -> Finding:
    test = "server-banner"
    shown = [
        f"{name}: {headers[name]}"
        for name in ("server", "x-powered-by")
        if name in headers and (name == "x-powered-by" or re.search(r"\d", headers[name]))
    ]
    if shown:
        return Finding(test, 5, f"the software and version are told ({'; '.join(shown)})")
    return Finding(test, 0, "no version banner")


def old_tls(offered: dict[str, bool | None]) -> Finding:
    test = "tls-versions"
    accepted = [version for version, ok in offered.items() if ok]
    if accepted:
        return Finding(test, 20, f"{' and '.join(accepted)} still offered")
    untested = [version for version, ok in offered.items() if ok is None]
    if untested:
        return Finding(test, 0, f"this machine's TLS library cannot try {', '.join(untested)}")
    return Finding(test, 0, "TLS 1.0 and 1.1 refused")


def certificate(not_after: datetime | None, now: datetime) -> Finding:
    test = "certificate"
    if not_after is None:
        return Finding(test, 0, "no certificate date read")
    days = (not_after - now).total_seconds() / 86_400
    if days < 0:
        return Finding(test, 100, f"the certificate expired on {not_after:%Y-%m-%d}")
    if days < 30:
        return Finding(test, 10, f"the certificate expires in {int(days)} days")
    return Finding(test, 0, f"valid until {not_after:%Y-%m-%d}")


def _directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found.setdefault(words[0].lower(), [word.lower() for word in words[1:]])
    return found


# --- fetching ---------------------------------------------------------------------------


async def scan(
    url: str,
    *,
    http_url: str | None = None,
    ca_file: str | None = None,
    seconds: float = 10.0,
    now: datetime | None = None,
) -> ScanReport:
    """Scan the deployment at ``url`` (https://); ``http_url`` is its plain-HTTP address
    (derived as port 80 when ``url`` uses the default port); ``seconds`` bounds each
    request and handshake."""
    base = httpx.URL(url)
    if base.scheme != "https" or not base.host:
        raise ScanFailed(f"{url} is not an https:// URL; scan the address people use")
    if http_url is None and base.port is None:
        http_url = str(base.copy_with(scheme="http"))
    context = ssl.create_default_context(cafile=ca_file)
    allowed = [url] + ([http_url] if http_url else [])
    client = OutboundClient(
        AddressPolicy.for_urls(allowed),
        timeouts=OutboundTimeouts(connect=seconds, read=seconds, write=seconds, pool=seconds),
        max_response_bytes=4 * 1024 * 1024,
        verify_tls=context,
    )
    try:
        front = await client.request("GET", url)
        plain = await _optional(client, http_url)
        cors = await client.request(
            "GET", str(base.join("/api/config")), headers={"Origin": HOSTILE_ORIGIN}
        )
        docs = {
            path: (await client.request("GET", str(base.join(path)))).status_code
            for path in ("/docs", "/openapi.json")
        }
    except BastionError as failed:
        raise ScanFailed(f"{url} could not be fetched: {failed.detail}") from None
    finally:
        await client.aclose()
    port = base.port or 443
    not_after, offered = await _tls(base.host, port, context, ca_file, seconds)
    headers = front.headers
    findings = (
        redirection(plain, url),
        strict_transport_security(headers),
        content_security_policy(headers),
        framing(headers),
        content_type_options(headers),
        referrer_policy(headers),
        cookies([*front.headers.get_list("set-cookie"), *cors.headers.get_list("set-cookie")]),
        cross_origin(cors),
        api_documentation(docs),
        banner(headers),
        old_tls(offered),
        certificate(not_after, now or datetime.now(UTC)),
    )
    return ScanReport(url, findings)


async def _optional(client: OutboundClient, url: str | None) -> httpx.Response | None:
    if url is None:
        return None
    try:
        return await client.request("GET", url)
    except BastionError:  # nothing listens on plain HTTP: that is no redirect to test
        return None


async def _tls(
    host: str, port: int, context: ssl.SSLContext, ca_file: str | None, seconds: float
) -> tuple[datetime | None, dict[str, bool | None]]:
    """The certificate's end date, and whether TLS 1.0 and 1.1 are still accepted."""
    policy = AddressPolicy.for_urls([f"https://{host}:{port}/"])
    addresses = await system_resolver(host, port)
    if not addresses:
        raise ScanFailed(f"{host} does not resolve")
    address = addresses[0]
    policy.check_address(address, host, port)
    certificate = await _handshake(str(address), host, port, context, seconds)
    not_after = None
    if certificate and certificate.get("notAfter"):
        expires = ssl.cert_time_to_seconds(str(certificate["notAfter"]))
        not_after = datetime.fromtimestamp(expires, UTC)
    offered: dict[str, bool | None] = {}
    for name, version in (("TLS 1.0", "TLSv1"), ("TLS 1.1", "TLSv1_1")):
        old = _old_context(ca_file, version)
        if old is None:
            offered[name] = None
            continue
        offered[name] = await _handshake(str(address), host, port, old, seconds) is not None
    return not_after, offered


def _old_context(ca_file: str | None, name: str) -> ssl.SSLContext | None:
    """A client context that speaks only the TLS version ``name`` and still verifies the
    certificate, or None when this machine's TLS library cannot speak it at all."""
    context = ssl.create_default_context(cafile=ca_file)
    with warnings.catch_warnings():
        # Deprecated in Python because no one should speak them; asking is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        version = getattr(ssl.TLSVersion, name)
        try:
            context.minimum_version = context.maximum_version = version
        except (ValueError, ssl.SSLError):
            return None
    try:
        # The old versions need the old signature algorithms, below today's default level.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    if context.maximum_version != version:
        return None
    return context


async def _handshake(
    address: str, host: str, port: int, context: ssl.SSLContext, seconds: float
) -> dict[str, Any] | None:
    """The peer certificate after a completed handshake, or None when it was refused."""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=context, server_hostname=host), seconds
        )
    except (OSError, ssl.SSLError, TimeoutError):
        return None
    try:
        peer = writer.get_extra_info("peercert")
        return dict(peer) if peer else {"notAfter": None}
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
