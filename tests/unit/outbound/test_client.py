"""The outbound client against real local servers: a canary that nothing may reach."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
from collections.abc import Sequence

import pytest

from bastion.outbound import (
    AddressPolicy,
    OutboundClient,
    OutboundTimeouts,
    ResponseTooLarge,
    UpstreamError,
    UpstreamTimeout,
    UrlNotAllowed,
)
from bastion.outbound.policy import IPAddress
from tests.web_servers import (
    Certificates,
    SeenRequest,
    ServerFactory,
    WebServer,
    page,
    redirect_to,
    respond,
)

FAST = OutboundTimeouts(connect=0.5, read=0.5, write=0.5, pool=0.5, total=2.0)
PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


class ScriptedResolver:
    """Answers each lookup with the next scripted answer; counts lookups."""

    def __init__(self, *answers: Sequence[IPAddress]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def loopback_spellings(port: int) -> list[str]:
    return [
        f"http://{host}:{port}/"
        for host in (
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "127.000.000.001",
            "localhost",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[64:ff9b::7f00:1]",
            "0.0.0.0",  # noqa: S104 (a URL host, not a bind address)
        )
    ] + [
        f"http://evil@127.0.0.1:{port}/",
        f"http://example.com\\@127.0.0.1:{port}/",
        f"http://example.com%5C@127.0.0.1:{port}/",
    ]


async def test_internal_addresses_in_every_spelling_never_reach_the_canary(
    canary: WebServer,
) -> None:
    client = OutboundClient(AddressPolicy(), timeouts=FAST)
    for url in loopback_spellings(canary.port):
        with pytest.raises(UrlNotAllowed):
            await client.request("GET", url)
        with pytest.raises(UrlNotAllowed):
            async with client.stream("GET", url):
                pass
    await client.aclose()
    assert canary.connections == 0


async def test_a_name_resolving_to_an_internal_address_is_refused(canary: WebServer) -> None:
    resolver = ScriptedResolver([LOOPBACK])
    client = OutboundClient(AddressPolicy(), timeouts=FAST, resolver=resolver)
    with pytest.raises(UrlNotAllowed):
        await client.request("GET", f"http://public.test:{canary.port}/")
    assert canary.connections == 0


async def test_an_answer_mixing_public_and_internal_addresses_is_refused(
    canary: WebServer,
) -> None:
    resolver = ScriptedResolver([PUBLIC, LOOPBACK])
    client = OutboundClient(AddressPolicy(), timeouts=FAST, resolver=resolver)
    with pytest.raises(UrlNotAllowed):
        await client.request("GET", f"http://mixed.test:{canary.port}/")
    assert canary.connections == 0


async def test_dns_rebinding_cannot_reach_the_canary(canary: WebServer) -> None:
    # The checked lookup answers public, and every later lookup (the system's, for
    # "localhost") answers loopback: a client that checks one answer and then connects
    # by name would reach the canary.
    resolver = ScriptedResolver([PUBLIC], [LOOPBACK])
    client = OutboundClient(
        AddressPolicy(),
        timeouts=OutboundTimeouts(connect=0.3, read=0.3, write=0.3, pool=0.3, total=1.0),
        resolver=resolver,
    )
    with pytest.raises((UpstreamError, UpstreamTimeout)):
        await client.request("GET", f"http://localhost:{canary.port}/")
    await client.aclose()
    assert resolver.calls == ["localhost"]
    assert canary.connections == 0


async def test_configured_upstream_is_reached_by_configuration(web_server: ServerFactory) -> None:
    upstream = await web_server(page(b"hello"))
    client = OutboundClient(AddressPolicy.for_urls([upstream.origin]), timeouts=FAST)
    response = await client.request("GET", f"{upstream.origin}/api/tags")
    await client.aclose()
    assert (response.status_code, response.content) == (200, b"hello")
    assert upstream.requests[0].target == "/api/tags"


async def test_proxy_variables_in_the_environment_are_ignored(
    web_server: ServerFactory, canary: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = await web_server(page(b"direct"))
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, canary.origin)
    client = OutboundClient(AddressPolicy.for_urls([upstream.origin]), timeouts=FAST)
    response = await client.request("GET", upstream.origin)
    await client.aclose()
    assert response.content == b"direct"
    assert canary.connections == 0


@pytest.mark.parametrize(
    "location",
    [
        "{canary}/",
        "http://2130706433:{port}/",
        "http://0x7f000001:{port}/",
        "http://localhost:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://evil@127.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
async def test_redirects_to_internal_addresses_are_refused(
    web_server: ServerFactory, canary: WebServer, location: str
) -> None:
    target = location.format(canary=canary.origin, port=canary.port)
    redirector = await web_server(redirect_to(target))
    client = OutboundClient(AddressPolicy.for_urls([redirector.origin]), timeouts=FAST)
    with pytest.raises(UrlNotAllowed):
        await client.request("GET", redirector.origin, follow_redirects=True)
    await client.aclose()
    assert len(redirector.requests) == 1
    assert canary.connections == 0


async def test_redirects_are_not_followed_unless_asked(
    web_server: ServerFactory, canary: WebServer
) -> None:
    redirector = await web_server(redirect_to(canary.origin))
    client = OutboundClient(AddressPolicy.for_urls([redirector.origin]), timeouts=FAST)
    response = await client.request("GET", redirector.origin)
    await client.aclose()
    assert (response.status_code, response.headers["location"]) == (302, canary.origin)
    assert canary.connections == 0


async def test_redirect_chains_are_capped(web_server: ServerFactory) -> None:
    loop = await web_server(redirect_to("/again"))
    client = OutboundClient(AddressPolicy.for_urls([loop.origin]), timeouts=FAST, max_redirects=3)
    with pytest.raises(UpstreamError) as refused:
        await client.request("GET", loop.origin, follow_redirects=True)
    await client.aclose()
    assert refused.value.code == "too_many_redirects"
    assert len(loop.requests) == 4


async def test_allowed_redirect_is_followed(web_server: ServerFactory) -> None:
    async def handler(request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        if request.target == "/":
            await respond(writer, 301, headers={"Location": "/moved"})
        else:
            await respond(writer, 200, b"moved here")

    server = await web_server(handler)
    client = OutboundClient(AddressPolicy.for_urls([server.origin]), timeouts=FAST)
    response = await client.request("GET", server.origin, follow_redirects=True)
    await client.aclose()
    assert (response.status_code, response.content) == (200, b"moved here")


async def test_a_kept_alive_connection_is_reused_without_resolving_again(
    web_server: ServerFactory,
) -> None:
    server = await web_server(page(b"hello"))
    resolver = ScriptedResolver([LOOPBACK])
    policy = AddressPolicy(allow_hosts=frozenset({("upstream.test", server.port)}))
    client = OutboundClient(policy, timeouts=FAST, resolver=resolver)
    for _ in range(3):
        response = await client.request("GET", f"http://upstream.test:{server.port}/")
        assert response.content == b"hello"
    async with client.stream("GET", f"http://upstream.test:{server.port}/") as streamed:
        assert [chunk async for chunk in streamed.aiter_raw()] == [b"hello"]
    await client.aclose()
    assert (server.connections, len(server.requests)) == (1, 4)
    assert resolver.calls == ["upstream.test"]


async def test_a_new_connection_is_resolved_and_checked_again(web_server: ServerFactory) -> None:
    async def closing(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"once", {"Connection": "close"})

    server = await web_server(closing)
    # The second lookup answers the metadata address: the new connection must not be made.
    resolver = ScriptedResolver([LOOPBACK], [ipaddress.ip_address("169.254.169.254")])
    policy = AddressPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    client = OutboundClient(policy, timeouts=FAST, resolver=resolver)
    url = f"http://upstream.test:{server.port}/"
    assert (await client.request("GET", url)).content == b"once"
    with pytest.raises(UrlNotAllowed):
        await client.request("GET", url)
    await client.aclose()
    assert resolver.calls == ["upstream.test", "upstream.test"]
    assert (server.connections, len(server.requests)) == (1, 1)


async def test_cookies_set_by_a_server_are_never_sent_back(web_server: ServerFactory) -> None:
    async def handler(request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"", {"Set-Cookie": "session=secret-of-user-a; Path=/"})

    server = await web_server(handler)
    client = OutboundClient(AddressPolicy.for_urls([server.origin]), timeouts=FAST)
    await client.request("GET", f"{server.origin}/a")
    await client.request("GET", f"{server.origin}/b")
    await client.aclose()
    assert [request.headers.get("cookie") for request in server.requests] == [None, None]


async def test_a_redirect_to_another_origin_drops_the_authorization_header(
    web_server: ServerFactory,
) -> None:
    other = await web_server(page(b"other"))

    async def handler(request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        if request.target == "/":
            await respond(writer, 307, headers={"Location": "/same"})
        else:
            await respond(writer, 303, headers={"Location": f"{other.origin}/elsewhere"})

    server = await web_server(handler)
    client = OutboundClient(AddressPolicy.for_urls([server.origin, other.origin]), timeouts=FAST)
    response = await client.request(
        "POST",
        server.origin,
        headers={"Authorization": "Bearer sk-upstream"},
        content=b"{}",
        follow_redirects=True,
    )
    await client.aclose()
    assert (response.status_code, response.content) == (200, b"other")
    seen = [(r.method, r.target, r.headers.get("authorization")) for r in server.requests]
    assert seen == [("POST", "/", "Bearer sk-upstream"), ("POST", "/same", "Bearer sk-upstream")]
    (moved,) = other.requests
    assert (moved.method, moved.target, moved.headers.get("authorization")) == (
        "GET",
        "/elsewhere",
        None,
    )
    assert moved.headers["host"] == f"127.0.0.1:{other.port}"
    assert "content-length" not in moved.headers


async def test_tls_is_verified_for_the_name_while_connecting_to_the_checked_address(
    web_server: ServerFactory, certificates: Certificates
) -> None:
    server = await web_server(page(b"secure"), tls=certificates.server_context())
    resolver = ScriptedResolver([LOOPBACK])
    policy = AddressPolicy(
        allow_hosts=frozenset({("upstream.test", server.port), ("other.test", server.port)})
    )
    trusted = OutboundClient(
        policy, timeouts=FAST, resolver=resolver, verify_tls=certificates.client_context()
    )
    response = await trusted.request("GET", f"https://upstream.test:{server.port}/")
    assert response.content == b"secure"
    assert server.requests[0].headers["host"] == f"upstream.test:{server.port}"
    # The certificate names upstream.test only: another name on the same address fails.
    with pytest.raises(UpstreamError):
        await trusted.request("GET", f"https://other.test:{server.port}/")
    await trusted.aclose()
    # The default verifies against the system's authorities, which do not know the test CA.
    default = OutboundClient(policy, timeouts=FAST, resolver=resolver)
    with pytest.raises(UpstreamError):
        await default.request("GET", f"https://upstream.test:{server.port}/")
    await default.aclose()
    assert len(server.requests) == 1


async def test_response_over_the_cap_is_refused(web_server: ServerFactory) -> None:
    server = await web_server(page(b"x" * 5000))
    client = OutboundClient(
        AddressPolicy.for_urls([server.origin]), timeouts=FAST, max_response_bytes=1000
    )
    with pytest.raises(ResponseTooLarge):
        await client.request("GET", server.origin)
    with pytest.raises(ResponseTooLarge):
        async with client.stream("GET", server.origin) as response:
            async for _chunk in response.aiter_raw():
                pass
    await client.aclose()


async def test_compressed_response_is_capped_after_decompression(
    web_server: ServerFactory,
) -> None:
    bomb = gzip.compress(b"\0" * 1_000_000)
    assert len(bomb) < 2000

    async def handler(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, bomb, {"Content-Encoding": "gzip"})

    server = await web_server(handler)
    client = OutboundClient(
        AddressPolicy.for_urls([server.origin]), timeouts=FAST, max_response_bytes=10_000
    )
    with pytest.raises(ResponseTooLarge):
        await client.request("GET", server.origin)
    async with client.stream("GET", server.origin) as response:
        with pytest.raises(ResponseTooLarge):
            await client.read(response)
    await client.aclose()


async def test_an_upstream_silent_after_its_headers_times_out(web_server: ServerFactory) -> None:
    async def stall(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        await writer.drain()
        await asyncio.Event().wait()

    server = await web_server(stall)
    client = OutboundClient(
        AddressPolicy.for_urls([server.origin]),
        timeouts=OutboundTimeouts(connect=1, read=0.2, write=1, pool=1, total=5),
    )
    async with client.stream("GET", server.origin) as response:
        assert response.status_code == 200
        with pytest.raises(UpstreamTimeout):
            async for _chunk in response.aiter_raw():
                pass
    await client.aclose()


async def test_a_silent_upstream_times_out(web_server: ServerFactory) -> None:
    async def hang(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    server = await web_server(hang)
    client = OutboundClient(
        AddressPolicy.for_urls([server.origin]),
        timeouts=OutboundTimeouts(connect=1, read=0.2, write=1, pool=1, total=5),
    )
    with pytest.raises(UpstreamTimeout):
        await client.request("GET", server.origin)
    await client.aclose()


async def test_a_dripping_upstream_hits_the_total_deadline(web_server: ServerFactory) -> None:
    async def drip(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while True:
            writer.write(b".")
            await writer.drain()
            await asyncio.sleep(0.02)

    server = await web_server(drip)
    client = OutboundClient(
        AddressPolicy.for_urls([server.origin]),
        timeouts=OutboundTimeouts(connect=1, read=1, write=1, pool=1, total=0.3),
    )
    with pytest.raises(UpstreamTimeout):
        await client.request("GET", server.origin)
    with pytest.raises(UpstreamTimeout):
        async with client.stream("GET", server.origin) as response:
            async for _chunk in response.aiter_raw():
                pass
    await client.aclose()


async def test_garbage_from_the_upstream_is_a_bad_upstream(web_server: ServerFactory) -> None:
    async def garbage(_: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"this is not http\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await web_server(garbage)
    client = OutboundClient(AddressPolicy.for_urls([server.origin]), timeouts=FAST)
    with pytest.raises(UpstreamError) as refused:
        await client.request("GET", server.origin)
    await client.aclose()
    assert (refused.value.status_code, refused.value.code) == (502, "bad_upstream")
