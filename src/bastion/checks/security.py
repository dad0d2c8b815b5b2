"""What a request meets: the signing key, tokens, cookies, security headers, CORS, the
proxies believed, API keys, sign-up and the first admin's password."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from datetime import timedelta

from bastion.checks.registry import Message, Target, error, register, warning
from bastion.config import CookieSecure

MAX_TOKEN_LIFETIME = timedelta(days=30)
MIN_HSTS_SECONDS = 15_552_000  # six months: the floor of the HSTS preload list
_MAX_AGE = re.compile(r"max-age=(\d+)")
_COOKIES = (
    ("WEBUI_SESSION_COOKIE", "session_cookie_secure", "session_cookie_same_site"),
    ("WEBUI_AUTH_COOKIE", "auth_cookie_secure", "auth_cookie_same_site"),
)


@register()
def check_secret_key_file(target: Target) -> Iterator[Message]:
    path = target.settings.auth.secret_key_file
    if path is not None and path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        yield error(
            1,
            f"the secret key file {path} can be read by other users, who could forge tokens",
            f"run chmod 600 {path}",
        )


@register(deploy=True)
def check_secret_key_source(target: Target) -> Iterator[Message]:
    path = target.settings.auth.secret_key_file
    if path is not None:
        yield warning(
            1,
            f"WEBUI_SECRET_KEY is unset, so the key is the one generated into {path}; "
            "another instance or a restored host without that file signs differently",
            "set WEBUI_SECRET_KEY from your secret store, the same on every instance",
        )


@register()
def check_token_lifetime(target: Target) -> Iterator[Message]:
    lifetime = target.settings.auth.jwt_expires_in
    if lifetime is None:
        yield warning(
            2,
            "JWT_EXPIRES_IN=-1: tokens never expire, so a stolen one works until revoked",
            "set JWT_EXPIRES_IN to a duration such as 7d",
        )
    elif lifetime > MAX_TOKEN_LIFETIME:
        yield warning(
            3,
            f"JWT_EXPIRES_IN is {lifetime.days} days, longer than 30",
            "set JWT_EXPIRES_IN to 30d or less, such as 7d",
        )


@register(deploy=True)
def check_cookies_secure(target: Target) -> Iterator[Message]:
    auth = target.settings.auth
    webui_url = target.settings.http.webui_url or ""
    for prefix, secure_field, _ in _COOKIES:
        secure = getattr(auth, secure_field)
        if secure is CookieSecure.FALSE:
            yield warning(
                10,
                f"{prefix}_SECURE=false: the cookie also travels over plain http",
                f"set {prefix}_SECURE=true",
            )
        elif secure is CookieSecure.AUTO and not webui_url.startswith("https://"):
            yield warning(
                11,
                f"{prefix}_SECURE=auto and WEBUI_URL is not https, so nothing shows that "
                "the cookie is only sent over HTTPS",
                f"set WEBUI_URL to your https:// address, or {prefix}_SECURE=true",
            )


@register()
def check_cookies_same_site(target: Target) -> Iterator[Message]:
    for prefix, _, same_site_field in _COOKIES:
        if getattr(target.settings.auth, same_site_field) == "none":
            yield warning(
                12,
                f"{prefix}_SAME_SITE=none: other sites' requests carry the cookie",
                f"set {prefix}_SAME_SITE=lax or strict",
            )


@register(deploy=True)
def check_hsts(target: Target) -> Iterator[Message]:
    hsts = target.headers_sent.get("strict-transport-security")
    if hsts is None:
        yield warning(
            20,
            "HSTS is off: a first visit over http can be intercepted and kept on http",
            "unset HSTS to send the default, or set HSTS=max-age=31536000; includeSubDomains",
        )
        return
    match = _MAX_AGE.search(hsts)
    if match is None or int(match.group(1)) < MIN_HSTS_SECONDS:
        yield warning(
            21,
            f"HSTS max-age is under six months ({hsts})",
            "set HSTS=max-age=31536000; includeSubDomains",
        )


@register()
def check_csp(target: Target) -> Iterator[Message]:
    policy = target.headers_sent.get("content-security-policy")
    if policy is None:
        yield warning(
            22,
            "CONTENT_SECURITY_POLICY is off: an injected script runs with the user's session",
            "unset CONTENT_SECURITY_POLICY to send the default policy",
        )
        return
    unsafe = [source for source in ("'unsafe-inline'", "'unsafe-eval'") if source in policy]
    if unsafe:
        yield warning(
            23,
            f"CONTENT_SECURITY_POLICY allows {' and '.join(unsafe)}, which lets injected "
            "script run",
            "remove them from CONTENT_SECURITY_POLICY, or unset it to send the default",
        )
    if "frame-ancestors" not in policy:
        yield warning(
            24,
            "CONTENT_SECURITY_POLICY has no frame-ancestors, so other sites may frame Bastion",
            "add frame-ancestors 'none' to CONTENT_SECURITY_POLICY",
        )


@register()
def check_x_frame_options(target: Target) -> Iterator[Message]:
    if "x-frame-options" not in target.headers_sent:
        yield warning(
            25,
            "XFRAME_OPTIONS is off: browsers without frame-ancestors let any site frame "
            "Bastion (clickjacking)",
            "unset XFRAME_OPTIONS to send DENY",
        )


@register()
def check_cors_wildcard(target: Target) -> Iterator[Message]:
    if target.settings.http.cors_allow_origins == ("*",):
        yield warning(
            30,
            "CORS_ALLOW_ORIGIN=*: any site may read Bastion's answers",
            "list your front-end origins in CORS_ALLOW_ORIGIN, such as https://chat.example.com",
        )


@register(deploy=True)
def check_cors_plain_http(target: Target) -> Iterator[Message]:
    for origin in target.settings.http.cors_allow_origins:
        if origin.startswith("http://"):
            yield warning(
                31,
                f"CORS_ALLOW_ORIGIN trusts {origin}, whose pages anyone on the path can change",
                f"use the https:// origin in CORS_ALLOW_ORIGIN instead of {origin}",
            )


@register()
def check_forwarded_allow_ips(target: Target) -> Iterator[Message]:
    trusted = target.settings.http.forwarded_allow_ips
    if trusted == "*":
        yield warning(
            32,
            "FORWARDED_ALLOW_IPS=*: any client can choose the address rate limits and lockouts see",
            "set FORWARDED_ALLOW_IPS to your proxy's address",
        )
        return
    for network in trusted:
        if not (network.is_private or network.is_loopback):
            yield warning(
                33,
                f"FORWARDED_ALLOW_IPS trusts the public range {network}: anyone there can "
                "choose the client address Bastion sees",
                "list only your proxies' own addresses in FORWARDED_ALLOW_IPS",
            )


@register()
def check_api_key_restrictions(target: Target) -> Iterator[Message]:
    auth = target.settings.auth
    restricted = auth.enable_api_keys_endpoint_restrictions and auth.api_keys_allowed_endpoints
    if auth.enable_api_keys and not restricted:
        yield warning(
            40,
            "API keys are on without endpoint restrictions: a leaked key reaches every route "
            "its owner can",
            "set ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS=true and API_KEYS_ALLOWED_ENDPOINTS to "
            "the routes programs use, such as /api/chat/completions,/api/models",
        )


@register()
def check_open_signup(target: Target) -> Iterator[Message]:
    auth = target.settings.auth
    if not auth.enable_signup or auth.default_user_role == "pending":
        return
    found = error if auth.default_user_role == "admin" else warning
    yield found(
        41,
        f"sign-up is open and new accounts get the role {auth.default_user_role} at once",
        "set DEFAULT_USER_ROLE=pending to approve each account, or ENABLE_SIGNUP=false",
    )


@register()
def check_admin_password_left_in_environment(target: Target) -> Iterator[Message]:
    if target.settings.auth.admin_password is not None and target.accounts_exist:
        yield warning(
            42,
            "WEBUI_ADMIN_PASSWORD is still set although the administrator exists; it "
            "stays readable in the environment of every process",
            "remove WEBUI_ADMIN_PASSWORD (and WEBUI_ADMIN_EMAIL) from the environment",
        )
