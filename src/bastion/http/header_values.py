"""Security response headers: the values, read from the settings and validated once.

Every header has a secure default, so a deployment that sets nothing is protected. A
header variable set to a value that cannot be used falls back to that default with a
warning naming the variable (a typo must not silently turn a protection off); set to an
empty string, the header is not sent (an explicit opt-out, e.g. when nginx sends it).
:class:`~bastion.http.headers.SecurityHeadersMiddleware` adds them to every response.

See https://owasp.org/www-project-secure-headers/ for what each header defends against.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bastion.config import Settings

Header = tuple[bytes, bytes]

DEFAULT_HSTS = "max-age=31536000; includeSubDomains"
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'; "
    "report-uri /api/v1/security/csp-report; report-to csp"
)
# The endpoint `report-to csp` names (Reporting API); report-uri serves older browsers.
DEFAULT_REPORTING_ENDPOINTS = 'csp="/api/v1/security/csp-report"'
# Where the per-request nonce goes in DEFAULT_CSP: right after script-src 'self'.
_CSP_NONCE_AT = DEFAULT_CSP.index("; style-src")

REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)

_TOKEN = re.compile(r"[A-Za-z0-9-]+")
_PERMISSION = re.compile(r"[a-z][a-z0-9-]*=\S.*")


def _is_header_safe(value: bytes) -> bool:
    """Visible ASCII and spaces only: no CR/LF (header injection), no other controls."""
    return all(0x20 <= byte < 0x7F for byte in value)


@dataclass(frozen=True, slots=True)
class SecurityHeaders:
    """The validated headers, as raw ASGI pairs, ready to be appended to a response.

    ``enforced`` replace any copy the app sets; ``overridable`` are sent unless the app
    set its own; ``hsts`` is sent over HTTPS only; ``cache_control`` on API paths only,
    unless the app set one; ``nonce_csp`` is the default policy split where a per-request
    nonce is inserted (``None`` when the admin's policy is used or CSP is off).
    """

    enforced: tuple[Header, ...] = ()
    overridable: tuple[Header, ...] = ()
    hsts: bytes | None = None
    cache_control: bytes | None = None
    nonce_csp: tuple[bytes, bytes] | None = None

    def __post_init__(self) -> None:
        values = [value for _, value in (*self.enforced, *self.overridable)]
        values += [value for value in (self.hsts, self.cache_control) if value is not None]
        values += list(self.nonce_csp or ())
        names = [name for name, _ in (*self.enforced, *self.overridable)]
        if not all(_is_header_safe(item) for item in (*values, *names)):
            raise ValueError("a security header holds a control or non-ASCII character")
        if any(name != name.lower() for name in names):
            raise ValueError("security header names must be lower case")


# Validators: take the stripped, non-empty, ASCII-printable value; return it normalised,
# or raise ValueError with the reason (completing "<VARIABLE>: '<value>' ...").


def _hsts(value: str) -> str:
    max_age: int | None = None
    flags: list[str] = []
    for part in value.split(";"):
        name, has_arg, arg = (item.strip() for item in part.partition("="))
        lowered = name.lower()
        if not name and not has_arg:
            continue  # "a; ; b" or a trailing ";"
        if lowered == "max-age" and has_arg:
            if max_age is not None:
                raise ValueError("repeats max-age")
            if len(arg) >= 2 and arg[0] == arg[-1] == '"':
                arg = arg[1:-1]
            if not (arg.isdigit() and len(arg) <= 10):
                raise ValueError("has no valid max-age (a number of seconds)")
            max_age = int(arg)
        elif lowered in {"includesubdomains", "preload"} and not has_arg:
            canonical = "includeSubDomains" if lowered == "includesubdomains" else "preload"
            if canonical in flags:
                raise ValueError(f"repeats {canonical}")
            flags.append(canonical)
        else:
            raise ValueError(f"has an unknown directive {part.strip()!r}")
    if max_age is None:
        raise ValueError("has no max-age")
    order = ("includeSubDomains", "preload")
    return "; ".join([f"max-age={max_age}", *(flag for flag in order if flag in flags)])


def _one_of(*choices: str, upper: bool = False) -> Callable[[str], str]:
    def validate(value: str) -> str:
        normalised = value.upper() if upper else value.lower()
        if normalised not in choices:
            raise ValueError(f"is not one of {', '.join(choices)}")
        return normalised

    return validate


def _referrer_policy(value: str) -> str:
    # A comma-separated list is valid: browsers use the last token they understand.
    tokens = [token.strip().lower() for token in value.split(",")]
    if not all(token in REFERRER_POLICIES for token in tokens):
        raise ValueError(f"is not a list of {', '.join(sorted(REFERRER_POLICIES))}")
    return ", ".join(tokens)


def _split(value: str, sep: str) -> list[str]:
    return [" ".join(part.split()) for part in value.split(sep) if part.strip()]


def _csp(value: str) -> str:
    directives = _split(value, ";")
    if not all(_TOKEN.fullmatch(directive.split(" ", 1)[0]) for directive in directives):
        raise ValueError("is not a list of directives such as default-src 'self'")
    return "; ".join(directives)


def _permissions_policy(value: str) -> str:
    # The Feature-Policy syntax (camera 'none') makes browsers drop the whole header.
    members = _split(value, ",")
    if not all(_PERMISSION.fullmatch(member) for member in members):
        raise ValueError("is not a list of feature=allowlist such as camera=()")
    return ", ".join(members)


def _cache_control(value: str) -> str:
    return ", ".join(_split(value, ",")).lower()


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str  # environment variable
    field: str  # HttpSettings attribute
    header: str  # lower-case header name
    default: str | None  # None: not sent unless set
    validate: Callable[[str], str]


_VARIABLES = (
    _Variable("HSTS", "hsts", "strict-transport-security", DEFAULT_HSTS, _hsts),
    _Variable(
        "XFRAME_OPTIONS",
        "xframe_options",
        "x-frame-options",
        "DENY",
        _one_of("DENY", "SAMEORIGIN", upper=True),
    ),
    _Variable(
        "CONTENT_SECURITY_POLICY",
        "content_security_policy",
        "content-security-policy",
        DEFAULT_CSP,
        _csp,
    ),
    _Variable(
        "CONTENT_SECURITY_POLICY_REPORT_ONLY",
        "content_security_policy_report_only",
        "content-security-policy-report-only",
        None,
        _csp,
    ),
    _Variable(
        "PERMISSIONS_POLICY",
        "permissions_policy",
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
        _permissions_policy,
    ),
    _Variable(
        "REFERRER_POLICY", "referrer_policy", "referrer-policy", "no-referrer", _referrer_policy
    ),
    _Variable("CACHE_CONTROL", "cache_control", "cache-control", "no-store", _cache_control),
    _Variable(
        "XCONTENT_TYPE", "xcontent_type", "x-content-type-options", "nosniff", _one_of("nosniff")
    ),
    _Variable(
        "XDOWNLOAD_OPTIONS", "xdownload_options", "x-download-options", "noopen", _one_of("noopen")
    ),
    _Variable(
        "XPERMITTED_CROSS_DOMAIN_POLICIES",
        "xpermitted_cross_domain_policies",
        "x-permitted-cross-domain-policies",
        "none",
        _one_of("none", "master-only", "by-content-type", "all"),
    ),
    _Variable(
        "CROSS_ORIGIN_OPENER_POLICY",
        "cross_origin_opener_policy",
        "cross-origin-opener-policy",
        "same-origin",
        _one_of("unsafe-none", "same-origin-allow-popups", "same-origin", "noopener-allow-popups"),
    ),
    _Variable(
        "CROSS_ORIGIN_RESOURCE_POLICY",
        "cross_origin_resource_policy",
        "cross-origin-resource-policy",
        "same-origin",
        _one_of("same-site", "same-origin", "cross-origin"),
    ),
)

# Headers a route may set for itself (see bastion.http.headers).
_OVERRIDABLE = frozenset(
    {
        "cache-control",
        "content-security-policy",
        "content-security-policy-report-only",
        "x-frame-options",
    }
)


def _show(value: str) -> str:
    return repr(value if len(value) <= 100 else value[:97] + "...")


def _resolve(variable: _Variable, raw: str | None, warnings: list[str]) -> str | None:
    """The value to send (``None``: not sent), with the documented fallback."""
    if raw is None:
        return variable.default
    value = raw.strip()
    if not value:
        return None  # explicit opt-out
    fallback = (
        f"using the default {variable.default!r}"
        if variable.default is not None
        else "the header is not sent"
    )
    try:
        if not _is_header_safe(value.encode("utf-8")):
            raise ValueError("holds control (CR/LF) or non-ASCII characters")
        normalised = variable.validate(value)
    except ValueError as exc:
        warnings.append(f"{variable.name}: {_show(raw)} {exc}; {fallback}.")
        return variable.default
    if variable.name == "HSTS" and normalised.startswith("max-age=0"):
        warnings.append(
            "HSTS: max-age=0 tells browsers to forget that this site is HTTPS-only; "
            "use max-age=31536000 unless that is intended."
        )
    return normalised


def build_security_headers(settings: Settings) -> tuple[SecurityHeaders, list[str]]:
    """Validate the header variables of ``settings``; return the headers and warnings.

    Each warning names the variable, the value and the fallback used, for the start to
    print. Nothing is parsed per request afterwards.
    """
    warnings: list[str] = []
    enforced: list[Header] = []
    overridable: list[Header] = []
    hsts = cache_control = None
    nonce_csp = None
    for variable in _VARIABLES:
        value = _resolve(variable, getattr(settings.http, variable.field), warnings)
        if value is None:
            continue
        pair = (variable.header.encode("ascii"), value.encode("ascii"))
        if variable.name == "HSTS":
            hsts = pair[1]
        elif variable.name == "CACHE_CONTROL":
            cache_control = pair[1]
        elif variable.name == "CONTENT_SECURITY_POLICY" and value == DEFAULT_CSP:
            nonce_csp = (pair[1][:_CSP_NONCE_AT], pair[1][_CSP_NONCE_AT:])
            enforced.append((b"reporting-endpoints", DEFAULT_REPORTING_ENDPOINTS.encode()))
        elif variable.header in _OVERRIDABLE:
            overridable.append(pair)
        else:
            enforced.append(pair)
    headers = SecurityHeaders(
        enforced=tuple(enforced),
        overridable=tuple(overridable),
        hsts=hsts,
        cache_control=cache_control,
        nonce_csp=nonce_csp,
    )
    return headers, warnings
