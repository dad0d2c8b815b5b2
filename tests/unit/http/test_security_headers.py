from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from bastion.config import load_settings
from bastion.http.header_values import DEFAULT_CSP, SecurityHeaders, build_security_headers
from bastion.http.headers import SecurityHeadersMiddleware

DEFAULTS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'; "
        "report-uri /api/v1/security/csp-report; report-to csp"
    ),
    "reporting-endpoints": 'csp="/api/v1/security/csp-report"',
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-download-options": "noopen",
    "x-permitted-cross-domain-policies": "none",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

# variable -> the header it controls
VARIABLES = {
    "HSTS": "strict-transport-security",
    "XFRAME_OPTIONS": "x-frame-options",
    "CONTENT_SECURITY_POLICY": "content-security-policy",
    "CONTENT_SECURITY_POLICY_REPORT_ONLY": "content-security-policy-report-only",
    "PERMISSIONS_POLICY": "permissions-policy",
    "REFERRER_POLICY": "referrer-policy",
    "CACHE_CONTROL": "cache-control",
    "XCONTENT_TYPE": "x-content-type-options",
    "XDOWNLOAD_OPTIONS": "x-download-options",
    "XPERMITTED_CROSS_DOMAIN_POLICIES": "x-permitted-cross-domain-policies",
    "CROSS_ORIGIN_OPENER_POLICY": "cross-origin-opener-policy",
    "CROSS_ORIGIN_RESOURCE_POLICY": "cross-origin-resource-policy",
}


async def any_path(request: Request) -> Response:
    return JSONResponse({"path": request.url.path})


async def own_headers(request: Request) -> Response:
    return PlainTextResponse(
        "ok",
        headers={
            "Cache-Control": "public, max-age=60",
            "Content-Security-Policy": "default-src 'none'",
            "X-Frame-Options": "SAMEORIGIN",
            "X-Content-Type-Options": "sniff-me",
            "Referrer-Policy": "unsafe-url",
        },
    )


async def with_nonce(request: Request) -> Response:
    request.state.csp_nonce = request.query_params["nonce"]
    return PlainTextResponse("<script nonce=...>")


def build(tmp_path: Path, **env: str) -> tuple[SecurityHeaders, list[str]]:
    return build_security_headers(load_settings({"DATA_DIR": str(tmp_path), **env}))


def make_app(headers: SecurityHeaders) -> SecurityHeadersMiddleware:
    routes = [
        Route("/api/own", own_headers),
        Route("/nonce", with_nonce),
        Route("/{path:path}", any_path),
    ]
    return SecurityHeadersMiddleware(Starlette(routes=routes), headers)


async def get(
    tmp_path: Path, path: str = "/api/v1/chats", scheme: str = "https", **env: str
) -> tuple[httpx.Response, list[str]]:
    headers, warnings = build(tmp_path, **env)
    transport = httpx.ASGITransport(app=make_app(headers))
    async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver") as client:
        return await client.get(path), warnings


def count(response: httpx.Response, name: str) -> int:
    return sum(1 for key, _ in response.headers.raw if key.lower() == name.encode())


async def test_every_header_is_sent_with_its_secure_default(tmp_path: Path) -> None:
    response, warnings = await get(tmp_path)

    assert warnings == []
    for name, value in DEFAULTS.items():
        assert response.headers.get(name) == value, name
        assert count(response, name) == 1, name
    assert "content-security-policy-report-only" not in response.headers


@pytest.mark.parametrize(("scheme", "sent"), [("https", True), ("http", False)])
async def test_hsts_is_sent_over_https_only(tmp_path: Path, scheme: str, sent: bool) -> None:
    response, _ = await get(tmp_path, scheme=scheme)

    assert ("strict-transport-security" in response.headers) is sent
    assert response.headers["x-frame-options"] == "DENY"  # the others either way


BAD_VALUES = [
    ("HSTS", "max-age=abc"),
    ("HSTS", "includeSubDomains; preload"),
    ("HSTS", "max-age=600; max-age=700"),
    ("HSTS", "max-age=600; includeSubDomain"),
    ("HSTS", "max-age=-1"),
    ("XFRAME_OPTIONS", "ALLOW-FROM https://example.com"),
    ("XFRAME_OPTIONS", "allow"),
    ("CONTENT_SECURITY_POLICY", "default-src 'self'\tscript-src *"),
    ("CONTENT_SECURITY_POLICY", "default-src \u2018self\u2019"),
    ("CONTENT_SECURITY_POLICY", "'self'"),
    ("PERMISSIONS_POLICY", "camera 'none'; microphone 'none'"),
    ("PERMISSIONS_POLICY", "camera=()\x00"),
    ("REFERRER_POLICY", "never"),
    ("REFERRER_POLICY", "no-referrer, sometimes"),
    ("CACHE_CONTROL", "no-store\x7f"),
    ("CACHE_CONTROL", "no-st\u00f6re"),
    ("XCONTENT_TYPE", "sniff"),
    ("XDOWNLOAD_OPTIONS", "open"),
    ("XPERMITTED_CROSS_DOMAIN_POLICIES", "some"),
    ("CROSS_ORIGIN_OPENER_POLICY", "same"),
    ("CROSS_ORIGIN_RESOURCE_POLICY", "anyone"),
]


@pytest.mark.parametrize(("variable", "bad"), BAD_VALUES)
async def test_an_invalid_value_falls_back_to_the_default_with_a_warning(
    tmp_path: Path, variable: str, bad: str
) -> None:
    response, warnings = await get(tmp_path, **{variable: bad})

    header = VARIABLES[variable]
    assert response.headers[header] == DEFAULTS[header]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{variable}: {bad!r} ")
    assert f"using the default {DEFAULTS[header]!r}" in warnings[0]


async def test_an_invalid_report_only_policy_is_not_sent_and_warned_about(
    tmp_path: Path,
) -> None:
    response, warnings = await get(
        tmp_path, CONTENT_SECURITY_POLICY_REPORT_ONLY="default-src\r\n 'self'"
    )

    assert "content-security-policy-report-only" not in response.headers
    assert warnings == [
        "CONTENT_SECURITY_POLICY_REPORT_ONLY: \"default-src\\r\\n 'self'\" holds control "
        "(CR/LF) or non-ASCII characters; the header is not sent."
    ]


HSTS_LONG = "max-age=63072000; includeSubDomains; preload"
CSP_SPACED = "default-src 'self'; img-src *"
REPORTING = "default-src 'self'; report-uri /csp"


@pytest.mark.parametrize(
    ("variable", "value", "sent"),
    [
        ("HSTS", "max-age=63072000 ; includeSubDomains;preload", HSTS_LONG),
        ("HSTS", 'MAX-AGE="600";INCLUDESUBDOMAINS;', "max-age=600; includeSubDomains"),
        ("HSTS", "preload; max-age=600", "max-age=600; preload"),
        ("XFRAME_OPTIONS", "sameorigin", "SAMEORIGIN"),
        ("XFRAME_OPTIONS", " deny ", "DENY"),
        ("CONTENT_SECURITY_POLICY", " default-src  'self' ;img-src *;", CSP_SPACED),
        ("CONTENT_SECURITY_POLICY_REPORT_ONLY", f"{REPORTING} ", REPORTING),
        ("PERMISSIONS_POLICY", "camera=(),geolocation=(self)", "camera=(), geolocation=(self)"),
        ("REFERRER_POLICY", " Strict-Origin-When-Cross-Origin ", "strict-origin-when-cross-origin"),
        ("REFERRER_POLICY", "no-referrer,strict-origin", "no-referrer, strict-origin"),
        ("CACHE_CONTROL", "Private,  Max-Age=0", "private, max-age=0"),
        ("XCONTENT_TYPE", "NoSniff", "nosniff"),
        ("XDOWNLOAD_OPTIONS", "NOOPEN", "noopen"),
        ("XPERMITTED_CROSS_DOMAIN_POLICIES", "Master-Only", "master-only"),
        ("CROSS_ORIGIN_OPENER_POLICY", "Same-Origin-Allow-Popups", "same-origin-allow-popups"),
        ("CROSS_ORIGIN_RESOURCE_POLICY", "Cross-Origin", "cross-origin"),
    ],
)
async def test_standard_spelling_is_accepted_and_normalised(
    tmp_path: Path, variable: str, value: str, sent: str
) -> None:
    response, warnings = await get(tmp_path, **{variable: value})

    assert warnings == []
    assert response.headers[VARIABLES[variable]] == sent


async def test_hsts_max_age_zero_is_kept_with_a_warning(tmp_path: Path) -> None:
    response, warnings = await get(tmp_path, HSTS="max-age=0")

    assert response.headers["strict-transport-security"] == "max-age=0"
    assert len(warnings) == 1 and warnings[0].startswith("HSTS: max-age=0 ")


@pytest.mark.parametrize("variable", sorted(VARIABLES))
@pytest.mark.parametrize("empty", ["", "  "])
async def test_an_empty_value_turns_that_header_off(
    tmp_path: Path, variable: str, empty: str
) -> None:
    response, warnings = await get(tmp_path, **{variable: empty})

    assert warnings == []
    assert VARIABLES[variable] not in response.headers
    # The reporting endpoint goes with the default policy it serves.
    turned_off = {VARIABLES[variable]}
    if variable == "CONTENT_SECURITY_POLICY":
        turned_off.add("reporting-endpoints")
        assert "reporting-endpoints" not in response.headers
    for name, value in DEFAULTS.items():
        if name not in turned_off:
            assert response.headers[name] == value  # the others are untouched


@pytest.mark.parametrize("variable", sorted(VARIABLES))
@pytest.mark.parametrize("injection", ["\r\nX-Injected: 1", "\nX-Injected: 1", "\rX-Injected: 1"])
async def test_a_value_with_cr_or_lf_is_never_emitted(
    tmp_path: Path, variable: str, injection: str
) -> None:
    value = "DENY" + injection if variable == "XFRAME_OPTIONS" else "no-store" + injection
    response, warnings = await get(tmp_path, **{variable: value})

    assert "x-injected" not in response.headers
    for _, raw in response.headers.raw:
        assert b"\r" not in raw and b"\n" not in raw and b"X-Injected" not in raw
    assert len(warnings) == 1 and warnings[0].startswith(f"{variable}: ")
    assert "control (CR/LF)" in warnings[0]


@pytest.mark.parametrize(
    "build_unsafe",
    [
        lambda: SecurityHeaders(enforced=((b"x-frame-options", b"DENY\r\nSet-Cookie: a=b"),)),
        lambda: SecurityHeaders(overridable=((b"x-frame-options", b"DENY\n"),)),
        lambda: SecurityHeaders(enforced=((b"x-frame-options", "DENY\u00e9".encode()),)),
        lambda: SecurityHeaders(enforced=((b"X-Frame-Options", b"DENY"),)),
        lambda: SecurityHeaders(hsts=b"max-age=1\r\n"),
        lambda: SecurityHeaders(cache_control=b"no-store\rX: 1"),
        lambda: SecurityHeaders(nonce_csp=(b"default-src 'self'", b"\n")),
    ],
)
def test_security_headers_refuse_unsafe_values_built_directly(
    build_unsafe: Callable[[], SecurityHeaders],
) -> None:
    with pytest.raises(ValueError):
        build_unsafe()


@pytest.mark.parametrize(
    ("path", "cached"),
    [
        ("/api/v1/chats", True),
        ("/api/models", True),
        ("/api/v1/auths/signin", True),
        ("/ollama/api/tags", True),
        ("/openai/models", True),
        ("/oauth/oidc/callback", True),
        ("/api", True),
        ("/static/app.js", False),
        ("/static/api/x.css", False),
        ("/", False),
        ("/favicon.ico", False),
    ],
)
async def test_cache_control_no_store_is_sent_on_api_paths_only(
    tmp_path: Path, path: str, cached: bool
) -> None:
    response, _ = await get(tmp_path, path=path)

    assert response.status_code == 200
    assert response.headers.get("cache-control") == ("no-store" if cached else None)


async def test_cache_control_setting_applies_to_api_paths_only(tmp_path: Path) -> None:
    api, _ = await get(tmp_path, CACHE_CONTROL="no-store, private")
    static, _ = await get(tmp_path, path="/static/app.js", CACHE_CONTROL="no-store, private")

    assert api.headers["cache-control"] == "no-store, private"
    assert "cache-control" not in static.headers


async def test_the_app_wins_for_overridable_headers_and_loses_for_the_others(
    tmp_path: Path,
) -> None:
    response, _ = await get(tmp_path, path="/api/own")

    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    for name in ("cache-control", "content-security-policy", "x-frame-options"):
        assert count(response, name) == 1, name
    for name in ("x-content-type-options", "referrer-policy"):
        assert count(response, name) == 1, name


async def test_a_nonce_in_request_state_is_added_to_the_default_script_src(
    tmp_path: Path,
) -> None:
    response, _ = await get(tmp_path, path="/nonce?nonce=r4nd0m-N0nce_value%2B%2F%3D%3D")

    assert response.headers["content-security-policy"] == DEFAULT_CSP.replace(
        "script-src 'self'", "script-src 'self' 'nonce-r4nd0m-N0nce_value+/=='"
    )


async def test_the_nonce_is_for_that_response_only(tmp_path: Path) -> None:
    headers, _ = build(tmp_path)
    transport = httpx.ASGITransport(app=make_app(headers))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        first = await client.get("/nonce?nonce=abcdefgh12345678")
        second = await client.get("/api/v1/chats")

    assert "'nonce-abcdefgh12345678'" in first.headers["content-security-policy"]
    assert second.headers["content-security-policy"] == DEFAULT_CSP


@pytest.mark.parametrize(
    "nonce", ["abc'; script-src *", "abc\r\nX-Injected: 1", "abc def", "é" * 16, ""]
)
async def test_a_nonce_that_could_change_the_policy_is_not_used(tmp_path: Path, nonce: str) -> None:
    headers, _ = build(tmp_path)
    transport = httpx.ASGITransport(app=make_app(headers))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get("/nonce", params={"nonce": nonce})

    assert response.headers["content-security-policy"] == DEFAULT_CSP
    assert "x-injected" not in response.headers


async def test_an_admin_policy_is_passed_through_without_the_nonce(tmp_path: Path) -> None:
    policy = "default-src 'self'; script-src 'self' https://cdn.example.com"
    response, _ = await get(
        tmp_path, path="/nonce?nonce=abcdefgh12345678", CONTENT_SECURITY_POLICY=policy
    )

    assert response.headers["content-security-policy"] == policy


async def test_an_admin_policy_equal_to_the_default_still_gets_the_nonce(
    tmp_path: Path,
) -> None:
    response, _ = await get(
        tmp_path, path="/nonce?nonce=abcdefgh12345678", CONTENT_SECURITY_POLICY=DEFAULT_CSP
    )

    assert (
        "script-src 'self' 'nonce-abcdefgh12345678';" in response.headers["content-security-policy"]
    )


async def test_the_apps_response_message_is_not_edited_in_place(tmp_path: Path) -> None:
    headers, _ = build(tmp_path)
    start: Message = {"type": "http.response.start", "status": 200, "headers": []}
    sent: list[Message] = []

    async def reuse_message(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    async def record(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    middleware = SecurityHeadersMiddleware(reuse_message, headers)
    scope = {"type": "http", "scheme": "https", "path": "/api/x", "headers": []}
    await middleware(dict(scope), receive, record)
    await middleware(dict(scope), receive, record)

    assert start["headers"] == []
    assert sent[0]["headers"] == sent[2]["headers"]
    assert (b"content-security-policy", DEFAULT_CSP.encode()) in sent[2]["headers"]


async def test_non_http_scopes_pass_through_untouched(tmp_path: Path) -> None:
    headers, _ = build(tmp_path)
    seen: list[Message] = []

    async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept", "headers": [(b"x-app", b"1")]})

    async def record(message: Message) -> None:
        seen.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    scope = {"type": "websocket", "scheme": "wss", "path": "/api/ws", "headers": []}
    await SecurityHeadersMiddleware(websocket_app, headers)(scope, receive, record)

    assert seen == [{"type": "websocket.accept", "headers": [(b"x-app", b"1")]}]
