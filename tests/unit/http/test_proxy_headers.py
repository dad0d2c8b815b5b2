from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.config import load_settings
from bastion.http.header_values import build_security_headers
from bastion.http.headers import SecurityHeadersMiddleware
from bastion.http.proxy import IPNetwork, ProxyHeadersMiddleware


async def echo(request: Request) -> Response:
    assert request.client is not None
    return JSONResponse(
        {
            "client": request.client.host,
            "port": request.client.port,
            "scheme": request.url.scheme,
            "host": request.headers["host"],
            "hosts": request.headers.getlist("host"),
            "forwarded_for": request.headers.get("x-forwarded-for"),
        }
    )


APP = Starlette(routes=[Route("/", echo)])


def networks(*entries: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry) for entry in entries)


async def request(
    app: ASGIApp,
    peer: str,
    headers: dict[str, str],
    base_url: str = "http://testserver",
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(peer, 51000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        return await client.get("/", headers=headers)


async def seen(
    peer: str,
    headers: dict[str, str],
    trusted: tuple[IPNetwork, ...] | Literal["*"] = networks("127.0.0.1/32"),
) -> dict[str, Any]:
    response = await request(ProxyHeadersMiddleware(APP, trusted), peer, headers)
    data: dict[str, Any] = response.json()
    return data


async def test_forwarded_for_from_an_untrusted_peer_is_ignored_but_left_in_place() -> None:
    data = await seen("203.0.113.7", {"X-Forwarded-For": "1.1.1.1"})

    assert (data["client"], data["port"]) == ("203.0.113.7", 51000)
    assert data["forwarded_for"] == "1.1.1.1"


async def test_forwarded_for_from_a_trusted_peer_is_believed() -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-For": "198.51.100.4"})

    assert (data["client"], data["port"]) == ("198.51.100.4", 0)


async def test_forwarded_for_from_a_peer_inside_a_trusted_cidr_is_believed() -> None:
    data = await seen("10.20.30.40", {"X-Forwarded-For": "198.51.100.4"}, networks("10.0.0.0/8"))

    assert data["client"] == "198.51.100.4"


async def test_a_peer_just_outside_a_trusted_cidr_is_not_believed() -> None:
    data = await seen("11.0.0.1", {"X-Forwarded-For": "198.51.100.4"}, networks("10.0.0.0/8"))

    assert data["client"] == "11.0.0.1"


async def test_a_spoofed_left_most_entry_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the address it saw.
    data = await seen("127.0.0.1", {"X-Forwarded-For": "6.6.6.6, 9.9.9.9"})

    assert data["client"] == "9.9.9.9"


async def test_trusted_hops_are_skipped_right_to_left() -> None:
    data = await seen(
        "10.0.0.1",
        {"X-Forwarded-For": "6.6.6.6, 9.9.9.9, 10.0.0.7, 10.0.0.5"},
        networks("10.0.0.0/24"),
    )

    assert data["client"] == "9.9.9.9"


async def test_several_forwarded_for_headers_are_one_chain() -> None:
    transport = httpx.ASGITransport(
        app=ProxyHeadersMiddleware(APP, networks("127.0.0.1/32")), client=("127.0.0.1", 1)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            "/", headers=[("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "9.9.9.9")]
        )

    assert response.json()["client"] == "9.9.9.9"


@pytest.mark.parametrize(
    "chain", ["not-an-ip", "9.9.9.9, garbage", "9.9.9.9,,", "", "9.9.9.9:1234", "1.2.3.4\x00"]
)
async def test_a_forwarded_for_that_is_not_an_ip_is_ignored(chain: str) -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-For": chain})

    assert (data["client"], data["port"]) == ("127.0.0.1", 51000)


async def test_an_invalid_entry_left_of_the_client_does_not_matter() -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-For": "whatever, 9.9.9.9"})

    assert data["client"] == "9.9.9.9"


async def test_a_chain_of_trusted_proxies_only_gives_the_left_most() -> None:
    data = await seen("10.0.0.1", {"X-Forwarded-For": "10.0.0.3, 10.0.0.2"}, networks("10.0.0.0/8"))

    assert data["client"] == "10.0.0.3"


async def test_trust_all_believes_the_left_most_entry() -> None:
    data = await seen("203.0.113.7", {"X-Forwarded-For": "6.6.6.6, 9.9.9.9"}, "*")

    assert data["client"] == "6.6.6.6"


async def test_ipv6_peers_and_clients() -> None:
    data = await seen("::1", {"X-Forwarded-For": "[2001:db8::1]"}, networks("::1/128"))

    assert data["client"] == "2001:db8::1"


async def test_an_ipv4_mapped_peer_is_matched_as_ipv4() -> None:
    data = await seen("::ffff:127.0.0.1", {"X-Forwarded-For": "198.51.100.4"})

    assert data["client"] == "198.51.100.4"


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [("https", "https"), ("HTTPS ", "https"), ("http", "http"), ("http, https", "https")],
)
async def test_forwarded_proto_from_a_trusted_peer_sets_the_scheme(proto: str, scheme: str) -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-Proto": proto})

    assert data["scheme"] == scheme
    assert (data["client"], data["port"]) == ("127.0.0.1", 51000)  # no XFF: peer kept


async def test_forwarded_proto_from_an_untrusted_peer_is_ignored() -> None:
    data = await seen("203.0.113.7", {"X-Forwarded-Proto": "https"})

    assert data["scheme"] == "http"


@pytest.mark.parametrize("proto", ["javascript", "ftp", "wss", "", "https\x00"])
async def test_a_forwarded_proto_other_than_http_or_https_is_ignored(proto: str) -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-Proto": proto})

    assert data["scheme"] == "http"


@pytest.mark.parametrize(("proto", "scheme"), [("https", "wss"), ("http", "ws")])
async def test_forwarded_proto_sets_the_websocket_scheme(proto: str, scheme: str) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    middleware = ProxyHeadersMiddleware(app, networks("127.0.0.1/32"))
    scope = {
        "type": "websocket",
        "scheme": "ws" if proto == "https" else "wss",
        "client": ("127.0.0.1", 5000),
        "headers": [(b"x-forwarded-proto", proto.encode())],
    }
    await middleware(scope, receive_nothing, send_nothing)

    assert scopes[0]["scheme"] == scheme


async def test_forwarded_host_from_a_trusted_peer_replaces_the_host_header() -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-Host": "Chat.Example.com:8443"})

    assert data["hosts"] == ["chat.example.com:8443"]


@pytest.mark.parametrize("host", ["[2001:db8::1]:443", "chat.example.com", "192.0.2.1"])
async def test_valid_forwarded_hosts_are_used(host: str) -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-Host": host})

    assert data["host"] == host


@pytest.mark.parametrize(
    "host",
    [
        *("evil.com/path", "a b", "host:99999", "host:0", "-bad-.com", "[nothex]", "[::1"),
        *("x" * 64, "user@host", "", "bad\x00.example"),
    ],
)
async def test_an_invalid_forwarded_host_is_ignored(host: str) -> None:
    data = await seen("127.0.0.1", {"X-Forwarded-Host": host})

    assert data["hosts"] == ["testserver"]


async def test_forwarded_host_from_an_untrusted_peer_is_ignored() -> None:
    data = await seen("203.0.113.7", {"X-Forwarded-Host": "evil.example"})

    assert data["hosts"] == ["testserver"]


async def receive_nothing() -> Message:
    return {"type": "http.disconnect"}


async def send_nothing(message: Message) -> None:
    return None


def unix_scope() -> Scope:
    return {
        "type": "http",
        "scheme": "http",
        "client": None,
        "headers": [(b"x-forwarded-for", b"198.51.100.4"), (b"x-forwarded-proto", b"https")],
    }


@pytest.mark.parametrize(
    ("options", "client", "scheme"),
    [
        ({"trusted": networks("127.0.0.1/32")}, None, "http"),
        (
            {"trusted": networks("127.0.0.1/32"), "trust_unix_socket": True},
            ("198.51.100.4", 0),
            "https",
        ),
        ({"trusted": "*"}, ("198.51.100.4", 0), "https"),
    ],
)
async def test_a_unix_socket_peer_is_trusted_only_when_configured(
    options: dict[str, Any], client: tuple[str, int] | None, scheme: str
) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    await ProxyHeadersMiddleware(app, **options)(unix_scope(), receive_nothing, send_nothing)

    assert (scopes[0]["client"], scopes[0]["scheme"]) == (client, scheme)


async def test_a_peer_that_is_not_an_ip_is_not_trusted() -> None:
    data = await seen("testclient", {"X-Forwarded-For": "198.51.100.4"})

    assert data["client"] == "testclient"


async def test_non_http_scopes_pass_through() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    scope = {"type": "lifespan"}
    await ProxyHeadersMiddleware(app, "*")(scope, receive_nothing, send_nothing)

    assert scopes == [{"type": "lifespan"}]


def test_trusted_must_be_networks() -> None:
    with pytest.raises(TypeError):
        ProxyHeadersMiddleware(APP, ("127.0.0.1",))  # type: ignore[arg-type]


def stacked(tmp_path: Path) -> ASGIApp:
    settings = load_settings({"DATA_DIR": str(tmp_path), "FORWARDED_ALLOW_IPS": "10.0.0.0/8"})
    headers, _ = build_security_headers(settings)
    return ProxyHeadersMiddleware(
        SecurityHeadersMiddleware(APP, headers), settings.http.forwarded_allow_ips
    )


async def test_hsts_is_sent_when_a_trusted_proxy_terminated_tls(tmp_path: Path) -> None:
    response = await request(stacked(tmp_path), "10.0.0.2", {"X-Forwarded-Proto": "https"})

    assert response.json()["scheme"] == "https"
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_hsts_is_not_sent_when_an_untrusted_peer_claims_https(tmp_path: Path) -> None:
    response = await request(stacked(tmp_path), "203.0.113.7", {"X-Forwarded-Proto": "https"})

    assert response.json()["scheme"] == "http"
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(("peer", "trusted"), [("127.0.0.1", True), ("203.0.113.9", False)])
async def test_the_scope_says_whether_the_direct_peer_is_a_trusted_proxy(
    peer: str, trusted: bool
) -> None:
    from bastion.http.proxy import TRUSTED_PEER

    marks: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        marks.append(scope.get(TRUSTED_PEER))
        await JSONResponse({})(scope, receive, send)

    # The forwarded client is someone else: the mark is about the peer, not the client.
    middleware = ProxyHeadersMiddleware(app, networks("127.0.0.1/32"))
    await request(middleware, peer, {"X-Forwarded-For": "198.51.100.7"})
    assert marks == [trusted]
